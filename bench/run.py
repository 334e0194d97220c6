"""One command for every benchmark: `python -m bench.run [--quick] [--no-prism] ...`, a table and a JSON file."""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import extras, loadgen, wrk
from bench.kinds import MEASURED, SCALE_KINDS, TOKEN, RequestKind
from bench.loadgen import LoadResult
from bench.report import (
    ServerRun,
    extras_lines,
    extras_targets,
    fresh_targets,
    main_table,
    mock_targets,
    scale_table,
    scale_targets,
    summarise,
)
from bench.servers import ROOT, Prism, Server, ensure_prism, start_mock, start_prism

RESULTS = Path(__file__).resolve().parent / "results"
PRISM_PREFIX = Path(__file__).resolve().parent / ".cache" / "prism"
# Warm-up requests per kind: enough to build the tenant and fill caches, bounded for slow reads on big accounts.
WARMUP_REQUESTS = 50

FULL: dict[str, Any] = {"duration": 4, "rounds": 3, "warmup": 1.0, "sizes": "1000,10000,100000"}
QUICK: dict[str, Any] = {"duration": 2, "rounds": 1, "warmup": 0.5, "sizes": "1000"}

Measure = Callable[[str, RequestKind, int, int], LoadResult]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Benchmark the mock on loopback (and Prism on the same spec), at 1 and 32 connections and on "
        "generated accounts; print a table and write JSON under bench/results/.",
    )
    parser.add_argument("--duration", type=int, help="seconds per measurement (default 4, quick 2)")
    parser.add_argument(
        "--rounds", type=int, help="rounds, each on fresh servers; medians are shown (default 3, quick 1)"
    )
    parser.add_argument(
        "--warmup", type=float, help="seconds of warm-up per request kind at most (default 1, quick 0.5)"
    )
    parser.add_argument("--connections", default="1,32", help="connection counts (default 1,32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (at most one per connection)")
    parser.add_argument("--sizes", help="generated account sizes, '' for none (default 1000,10000,100000, quick 1000)")
    parser.add_argument("--quick", action="store_true", help="a short run: the quick defaults above")
    parser.add_argument("--no-prism", action="store_true", help="do not install, start or compare with Prism")
    parser.add_argument("--no-check", action="store_true",
                        help="skip the served-spec timing and the full contract check (about a minute)")  # fmt: skip
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto",
                        help="wrk when on PATH (auto), or the Python generator")  # fmt: skip
    parser.add_argument("--output", type=Path, help="JSON file to write (default bench/results/bench-<time>.json)")
    args = parser.parse_args(argv)
    # Options given explicitly win over both sets of defaults.
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.connections = [int(c) for c in str(args.connections).split(",") if c.strip()]
    args.sizes = [int(s) for s in str(args.sizes).split(",") if s.strip()]
    if args.duration < 1 or args.rounds < 1 or not args.connections or min(args.connections) < 1:
        parser.error("--duration, --rounds and every connection count must be at least 1")
    return args


def measure_with(choice: str, threads: int) -> tuple[str, Measure]:
    """The load generator to use: wrk when asked for or found, else the Python one."""
    path = wrk.wrk_path()
    if choice == "wrk" and path is None:
        raise SystemExit("--loadgen wrk: wrk is not on PATH")
    if path is not None and choice != "python":
        return f"wrk ({wrk.wrk_version(path)})", lambda url, kind, conns, secs: wrk.run(
            path, url, kind, TOKEN, conns, secs, threads
        )
    return "python (httpx/asyncio)", lambda url, kind, conns, secs: loadgen.run(url, kind, TOKEN, conns, secs)


def warm_up(server: Server, kind: RequestKind, seconds: float) -> str | None:
    """A few sequential requests of `kind`; the status that says the server does not serve it, or None."""
    deadline = time.perf_counter() + seconds
    status = ""
    with httpx.Client(headers={"x-api-token": TOKEN, **kind.headers}, timeout=60) as client:
        for count in range(WARMUP_REQUESTS):
            if count and time.perf_counter() > deadline:
                break
            response = client.request(kind.method, server.base_url + kind.path, json=kind.body)
            status = f"status {response.status_code}"
            if not 200 <= response.status_code < 300:
                return status
    return None


def measure_server(
    start: Callable[[], Server], kinds: Sequence[RequestKind], connections: Sequence[int], args: argparse.Namespace,
    measure: Measure,
) -> ServerRun:  # fmt: skip
    server = start()
    try:
        run = ServerRun(startup_s=server.startup_s, ready_s=server.ready_s, rss_start_mb=server.rss_mb())
        for kind in kinds:
            if kind.is_write and run.rss_reads_mb is None:
                run.rss_reads_mb = server.rss_mb()
            unserved = warm_up(server, kind, args.warmup)
            if unserved:
                run.unserved[kind.key] = unserved
                continue
            for conns in connections:
                result = measure(server.base_url, kind, conns, args.duration)
                run.results.setdefault(kind.key, {})[conns] = result
                progress(f"  {server.name:5} {kind.label:32} c={conns:<3} {describe(result)}")
        run.rss_mb = server.rss_mb()
        if run.rss_reads_mb is None:  # no writes measured
            run.rss_reads_mb = run.rss_mb
    finally:
        server.stop()
    return run


def describe(result: LoadResult) -> str:
    return (f"{result.rps:9,.0f} req/s  p50 {result.p50_ms or 0:8.2f} ms  p99 {result.p99_ms or 0:8.2f} ms  "
            f"errors {result.errors}")  # fmt: skip


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine_info(loadgen_name: str, prism: Prism | None) -> dict[str, Any]:
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor())  # fmt: skip
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10,
                                check=False).stdout.strip() or None  # fmt: skip
    except OSError:
        commit = None
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadgen": loadgen_name,
        "prism": prism.version if prism and prism.bin else None,
        "commit": commit,
    }


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    loadgen_name, measure = measure_with(args.loadgen, args.threads)
    prism = None if args.no_prism else ensure_prism(PRISM_PREFIX)
    prism_note = "Prism skipped: --no-prism" if prism is None else prism.note
    progress(f"Load generator: {loadgen_name}; {prism_note}")
    mock_runs: list[ServerRun] = []
    prism_runs: list[ServerRun] = []
    for round_number in range(1, args.rounds + 1):
        # Mock and Prism take turns each round, so that a slow patch of the machine hits both alike.
        progress(f"Round {round_number}/{args.rounds}: default fixtures")
        mock_runs.append(measure_server(start_mock, MEASURED, args.connections, args, measure))
        if prism is not None and prism.bin is not None:
            start = functools.partial(start_prism, prism.bin)
            prism_runs.append(measure_server(start, MEASURED, args.connections, args, measure))
    scale_runs: dict[int, list[ServerRun]] = {}
    for size in args.sizes:
        for round_number in range(1, args.rounds + 1):
            progress(f"Round {round_number}/{args.rounds}: {size:,} generated deals")
            start = functools.partial(start_mock, generate_deals=size)
            scale_runs.setdefault(size, []).append(measure_server(start, SCALE_KINDS, [1], args, measure))
    measured_extras = run_extras(args)
    return {
        "extras": measured_extras,
        "machine": machine_info(loadgen_name, prism),
        "options": {
            "duration_s": args.duration,
            "rounds": args.rounds,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "threads": args.threads,
            "sizes": args.sizes,
            "quick": args.quick,
        },  # fmt: skip
        "prism_note": prism_note,
        "mock": rounds_and_median(mock_runs),
        "prism": rounds_and_median(prism_runs) if prism_runs else None,
        "scale": {str(size): rounds_and_median(runs) for size, runs in scale_runs.items()},
        "elapsed_s": round(time.perf_counter() - started, 1),
    }


def run_extras(args: argparse.Namespace) -> dict[str, Any] | None:
    """The served specs' timing and a full contract check's time, on a mock of their own."""
    if args.no_check:
        return None
    progress("Served specs and a full fintesk-mock check on the bundled account")
    measured = extras.time_check_run()
    for line in extras_lines(measured):
        progress(f"  {line}")
    return measured


def rounds_and_median(runs: Sequence[ServerRun]) -> dict[str, Any]:
    return {"runs": [run.to_json() for run in runs], "median": summarise(runs)}


def render(report: dict[str, Any]) -> str:
    """The whole printed report: the comparison with Prism, the scale table and every target's PASS/FAIL."""
    options, machine = report["options"], report["machine"]
    mock = report["mock"]["median"]
    prism = report["prism"]["median"] if report["prism"] else None
    scale = {int(size): entry["median"] for size, entry in report["scale"].items()}
    targets = mock_targets(mock, prism) + fresh_targets(mock, prism) + extras_targets(report.get("extras"))
    targets += scale_targets(scale)
    report["targets"] = [target.to_json() for target in targets]
    lines = [
        f"Fintesk Mock benchmark: {machine['cpu_count']} CPUs, Python {machine['python']}, {machine['loadgen']}, "
        f"{options['duration_s']} s per measurement, median of {options['rounds']} round(s)",
        "",
        f"Default fixtures vs {report['prism_note']}" + (" (paths without /v1)" if prism else ""),
        "x columns: times better than Prism (higher req/s, lower latency, start-up and RSS); > 1 means the mock wins",
        main_table(mock, prism, options["connections"]),
    ]
    if scale:
        lines += [
            "",
            "Generated accounts (10 activities and 1 product line per deal): p50 in ms at 1 connection, start-up",
            "to the first answer (generation and loading included), RSS after the reads (before the write); MB/10k",
            "deals is that RSS above the default-fixture mock's at start, per 10,000 deals",
            scale_table(scale, mock["rss_start_mb"]),
        ]
    if report.get("extras"):
        lines += ["", *extras_lines(report["extras"])]
    lines += ["", "Targets (reported, never asserted)", *(target.line() for target in targets)]
    return "\n".join(lines)


def write_json(report: dict[str, Any], output: Path | None) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = output or RESULTS / f"bench-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"created": stamp, **report}, indent=2) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = run_all(args)
    text = render(report)
    report["table"] = text
    print(text)
    print(f"\nJSON: {write_json(report, args.output)}  ({report['elapsed_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
