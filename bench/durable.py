"""What a data folder costs: `python -m bench.durable`, a create (and a read) with and without `--data-dir`."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import run
from bench.kinds import BY_KEY, RequestKind
from bench.servers import start_mock

# A create with a data folder may cost at most this many times a create in memory (p50 at one connection).
DURABLE_FACTOR = 1.5
KINDS: tuple[RequestKind, ...] = (BY_KEY["get_deal"].worked_out(), BY_KEY["add_deal"])


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.durable", description=__doc__)
    parser.add_argument("--duration", type=int, default=3, help="seconds per measurement (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, memory and data folder in turn (default 3)")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds of warm-up per kind at most")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--output", type=Path, help="JSON file to write (default bench/results/durable-<time>.json)")
    args = parser.parse_args(argv)
    if args.duration < 1 or args.rounds < 1:
        parser.error("--duration and --rounds must be at least 1")
    return args


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """p50 latency (ms) at one connection of each kind, per round, in memory and with a fresh data folder."""
    loadgen, measure_kind = run.measure_with(args.loadgen, threads=1)
    p50: dict[str, dict[str, list[float]]] = {"memory": {}, "data_dir": {}}
    for round_number in range(1, args.rounds + 1):
        for mode in ("memory", "data_dir"):
            run.progress(f"Round {round_number}/{args.rounds}: {mode}")
            with tempfile.TemporaryDirectory(prefix="fintesk-durable-") as folder:
                data_dir = Path(folder) if mode == "data_dir" else None
                server_run = run.measure_server(lambda d=data_dir: start_mock(data_dir=d), KINDS, [1], args,
                                                measure_kind)  # fmt: skip
            for kind in KINDS:
                result = server_run.results.get(kind.key, {}).get(1)
                if result is None or not result.ok or result.p50_ms is None:
                    raise SystemExit(f"{mode}: {kind.label} was not served: {server_run.unserved}")
                p50[mode].setdefault(kind.key, []).append(result.p50_ms)
    medians = {mode: {key: statistics.median(values) for key, values in kinds.items()} for mode, kinds in p50.items()}
    return {"loadgen": loadgen, "rounds": args.rounds, "duration_s": args.duration, "p50_ms": p50, "median": medians}


def render(report: dict[str, Any]) -> str:
    median = report["median"]
    lines = [f"Data folder cost ({report['loadgen']}, 1 connection, p50 ms, median of {report['rounds']} round(s))",
             f"{'request':32} {'memory':>9} {'data dir':>9} {'ratio':>7}"]  # fmt: skip
    for kind in KINDS:
        memory, durable = median["memory"][kind.key], median["data_dir"][kind.key]
        lines.append(f"{kind.label:32} {memory:9.3f} {durable:9.3f} {durable / memory:7.2f}")
    ratio = median["data_dir"]["add_deal"] / median["memory"]["add_deal"]
    verdict = "PASS" if ratio <= DURABLE_FACTOR else "FAIL"
    lines.append(f"{verdict}  a create with --data-dir costs {ratio:.2f}x one in memory (target <= {DURABLE_FACTOR}x)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = measure(args)
    text = render(report)
    print(text)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = args.output or run.RESULTS / f"durable-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"created": stamp, **report, "table": text}, indent=2) + "\n")
    print(f"\nJSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
