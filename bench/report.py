"""Medians over rounds, ratios to Prism, the issue's targets and the printed tables."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.kinds import FRESH_KINDS, KINDS, MEASURED, SCALE_KINDS
from bench.loadgen import LoadResult

FIGURES = ("rps", "p50_ms", "p99_ms")
PRISM_FACTOR = 1.5
# Worked out afresh, every read must beat Prism's static examples by PRISM_FACTOR, search by more.
FRESH_FACTORS = {"search_fresh": 2.0}
SPEC_ANSWER_MS = 50.0
SCALE_TARGET_SIZE = 100_000


@dataclass
class ServerRun:
    """One round against one server process: start-up, memory and a LoadResult per request kind and connections."""

    startup_s: float
    ready_s: float
    rss_start_mb: float
    rss_mb: float = 0.0  # after every kind, the writes included
    # After the reads, before the first write: the account as loaded, not grown by the benchmark's own creates.
    rss_reads_mb: float | None = None
    results: dict[str, dict[int, LoadResult]] = field(default_factory=dict)
    # Request kinds the server did not answer 2xx during warm-up, with the status it gave.
    unserved: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "startup_s": self.startup_s,
            "ready_s": self.ready_s,
            "rss_start_mb": self.rss_start_mb,
            "rss_mb": self.rss_mb,
            "rss_reads_mb": self.rss_reads_mb,
            "results": {
                key: {str(conns): result.to_json() for conns, result in by_conns.items()}
                for key, by_conns in self.results.items()
            },
            "unserved": self.unserved,
        }


def median(values: Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def summarise(runs: Sequence[ServerRun]) -> dict[str, Any]:
    """Each figure's median over the rounds; a kind with errors in any round keeps them counted, not hidden."""
    kinds: dict[str, dict[str, dict[str, Any]]] = {}
    for key in {key for run in runs for key in run.results}:
        for conns in sorted({c for run in runs for c in run.results.get(key, {})}):
            results = [run.results[key][conns] for run in runs if conns in run.results.get(key, {})]
            figures: dict[str, Any] = {name: median(getattr(r, name) for r in results) for name in FIGURES}
            figures |= {"requests": sum(r.requests for r in results), "errors": sum(r.errors for r in results)}
            kinds.setdefault(key, {})[str(conns)] = figures
    unserved = {key: status for run in runs for key, status in run.unserved.items()}
    return {
        "rounds": len(runs),
        "startup_s": median(run.startup_s for run in runs),
        "ready_s": median(run.ready_s for run in runs),
        "rss_start_mb": median(run.rss_start_mb for run in runs),
        "rss_mb": median(run.rss_mb for run in runs),
        "rss_reads_mb": median(run.rss_reads_mb for run in runs),
        # Deals the writes created in the median round (each adds to the RSS after writes).
        "created": median(sum(result.requests for result in run.results.get("add_deal", {}).values()) for run in runs),
        "kinds": kinds,
        "unserved": unserved,
    }


def figure(summary: dict[str, Any] | None, key: str, conns: int, name: str) -> float | None:
    """One median figure, or None where it was not measured or had errors (such a figure compares with nothing)."""
    if summary is None:
        return None
    figures = summary["kinds"].get(key, {}).get(str(conns))
    if not figures or figures["errors"] or figures[name] is None:
        return None
    return float(figures[name])


def advantage(ours: float | None, theirs: float | None, higher_is_better: bool) -> float | None:
    """How many times better ours is than theirs: > 1 means the mock wins, whichever way the figure points."""
    if ours is None or theirs is None or ours <= 0 or theirs <= 0:
        return None
    return ours / theirs if higher_is_better else theirs / ours


@dataclass(frozen=True)
class Target:
    name: str
    value: float | None
    limit: float
    unit: str
    at_least: bool = False

    @property
    def status(self) -> str:
        if self.value is None:
            return "n/a"
        passed = self.value >= self.limit if self.at_least else self.value < self.limit
        return "PASS" if passed else "FAIL"

    def line(self) -> str:
        sign = ">=" if self.at_least else "<"
        shown = "not measured" if self.value is None else f"{number(self.value)} {self.unit}".strip()
        return f"{self.status:4}  {self.name}: {shown} (target {sign} {number(self.limit)} {self.unit})".rstrip()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "limit": self.limit, "unit": self.unit,
                "at_least": self.at_least, "status": self.status}  # fmt: skip


def mock_targets(mock: dict[str, Any], prism: dict[str, Any] | None) -> list[Target]:
    targets = [
        Target("start-up to first GET /v1/deals/1", mock["startup_s"], 1.0, "s"),
        Target("p50 of GET /v1/deals/1 at 1 connection", figure(mock, "get_deal", 1, "p50_ms"), 2.0, "ms"),
        Target("p50 of GET /v1/deals?limit=100 at 1 connection", figure(mock, "list_deals", 1, "p50_ms"), 5.0, "ms"),
        Target("RSS after the read load, default fixtures", mock["rss_reads_mb"], 150.0, "MB"),
    ]
    if prism is not None:
        for kind in KINDS:
            ratio = advantage(figure(mock, kind.key, 32, "rps"), figure(prism, kind.key, 32, "rps"), True)
            targets.append(Target(f"req/s at 32 connections vs Prism, {kind.label}", ratio, PRISM_FACTOR, "x", True))
    return targets


def fresh_targets(mock: dict[str, Any], prism: dict[str, Any] | None) -> list[Target]:
    """Each read worked out afresh (`Cache-Control: no-cache`) against Prism, at 32 connections."""
    if prism is None:
        return []
    targets = []
    for kind in FRESH_KINDS:
        ratio = advantage(figure(mock, kind.key, 32, "rps"), figure(prism, kind.key, 32, "rps"), True)
        limit = FRESH_FACTORS.get(kind.key, PRISM_FACTOR)
        targets.append(Target(f"req/s at 32 connections vs Prism, {kind.label}", ratio, limit, "x", True))
    return targets


def extras_targets(extras: dict[str, Any] | None) -> list[Target]:
    """The served specs answer in under SPEC_ANSWER_MS, the first time too."""
    spec = (extras or {}).get("spec", {})
    return [Target(f"slowest of {path} answers", figures["max_ms"], SPEC_ANSWER_MS, "ms")
            for path, figures in spec.items()]  # fmt: skip


def extras_lines(extras: dict[str, Any] | None) -> list[str]:
    """The served specs' sizes and times, and the full check run's time, as report lines."""
    if not extras:
        return []
    lines = [f"{path}: {number(figures['kb'])} KB, first answer {number(figures['first_ms'])} ms, then p50 "
             f"{number(figures['p50_ms'])} ms, slowest {number(figures['max_ms'])} ms"
             for path, figures in extras.get("spec", {}).items()]  # fmt: skip
    check = extras.get("check")
    if check:
        cases = "-" if check["cases"] is None else f"{check['cases']:,}"
        lines.append(f"fintesk-mock check, full run on the bundled account: {number(check['seconds'])} s, "
                     f"{cases} test cases, exit code {check['exit_code']}")  # fmt: skip
    return lines


def scale_targets(scale: dict[int, dict[str, Any]]) -> list[Target]:
    big = scale.get(SCALE_TARGET_SIZE)
    label = f"at {SCALE_TARGET_SIZE:,} deals"
    return [
        Target(f"p50 of a 100-deal page {label}", figure(big, "list_deals_fresh", 1, "p50_ms"), 20.0, "ms"),
        Target(f"p50 of a filter_id list {label}", figure(big, "filter_deals_fresh", 1, "p50_ms"), 100.0, "ms"),
        Target(f"p50 of a search {label}", figure(big, "search_fresh", 1, "p50_ms"), 100.0, "ms"),
        Target(f"p50 of POST /v1/deals {label}", figure(big, "add_deal", 1, "p50_ms"), 5.0, "ms"),
        Target(f"start-up and loading {label}", big["startup_s"] if big else None, 10.0, "s"),
    ]


def number(value: float | None) -> str:
    """Three significant figures or so, thousands separated; '-' for nothing."""
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """A plain-text table; the first `left` columns are left-aligned, the rest right-aligned."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [cell.ljust(width) if i < left else cell.rjust(width) for i, (cell, width) in pairs]
        return "  ".join(cells).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


def _kind_row(mock: dict[str, Any], prism: dict[str, Any] | None, key: str, conns: int) -> list[str]:
    ours = [figure(mock, key, conns, name) for name in FIGURES]
    theirs = [figure(prism, key, conns, name) for name in FIGURES]
    ratios = [advantage(o, t, name == "rps") for o, t, name in zip(ours, theirs, FIGURES, strict=True)]
    figures = mock["kinds"].get(key, {}).get(str(conns), {})
    note = mock["unserved"].get(key) or (f"{figures['errors']} errors" if figures.get("errors") else "")
    return [*map(number, ours), *map(number, theirs), *map(times, ratios), note]


def main_table(mock: dict[str, Any], prism: dict[str, Any] | None, connections: Sequence[int]) -> str:
    header = ["request", "conns", "req/s", "p50 ms", "p99 ms", "Prism req/s", "p50 ms", "p99 ms",
              "x req/s", "x p50", "x p99", "note"]  # fmt: skip
    rows = [
        [kind.label, str(conns), *_kind_row(mock, prism, kind.key, conns)] for kind in MEASURED for conns in connections
    ]
    start = [number(mock["startup_s"]) + " s", number(prism["startup_s"]) + " s" if prism else "-",
             times(advantage(mock["startup_s"], prism["startup_s"] if prism else None, False))]  # fmt: skip
    rows.append(["start-up to first GET /v1/deals/1", "", start[0], "", "", start[1], "", "", start[2], "", "", ""])
    for label, name in (("RSS after the read load", "rss_reads_mb"), ("RSS after the writes too", "rss_mb")):
        ours, theirs = mock.get(name), prism.get(name) if prism else None
        note = f"{number(mock.get('created'))} deals created" if name == "rss_mb" else ""
        rows.append([label, "", number(ours) + " MB", "", "", number(theirs) + " MB" if prism else "-", "", "",
                     times(advantage(ours, theirs, False)), "", "", note])  # fmt: skip
    return table(header, rows, left=1)


def scale_table(scale: dict[int, dict[str, Any]], baseline_rss_mb: float | None) -> str:
    header = ["deals", "start-up s", "RSS MB", "MB/10k deals", *(f"{kind.key} p50 ms" for kind in SCALE_KINDS)]
    rows = []
    for size, summary in sorted(scale.items()):
        # The RSS after the reads: the generated account as loaded, not grown by the write measured after them.
        rss = summary["rss_reads_mb"]
        extra = None if baseline_rss_mb is None else (rss - baseline_rss_mb) / size * 10_000
        p50s = [number(figure(summary, kind.key, 1, "p50_ms")) for kind in SCALE_KINDS]
        rows.append([f"{size:,}", number(summary["startup_s"]), number(rss), number(extra), *p50s])
    if len(scale) > 1:
        first, last = min(scale), max(scale)
        growths = [growth(figure(scale[first], kind.key, 1, "p50_ms"), figure(scale[last], kind.key, 1, "p50_ms"))
                   for kind in SCALE_KINDS]  # fmt: skip
        rows.append([f"growth {first:,}->{last:,}", "", "", "", *map(times, growths)])
    return table(header, rows, left=1)


def growth(small: float | None, big: float | None) -> float | None:
    """How many times longer the p50 is on the biggest account than on the smallest."""
    return None if small is None or big is None or small <= 0 else big / small


RESULTS = Path(__file__).resolve().parent / "results"


def write_results(name: str, payload: dict[str, Any], output: Path | None) -> Path:
    """`payload` as JSON in `output`, or in `bench/results/<name>-<time>.json`; the path written."""
    path = output or RESULTS / f"{name}-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return path
