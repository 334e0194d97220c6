"""The stall benchmark sends every request kind to a generated account and reports how long each held the loop."""

from __future__ import annotations

import json
from pathlib import Path

from bench import stalls


def test_the_stall_benchmark_reports_each_kind_and_the_longest_wait(
    tmp_path: Path, started_as_serve_starts: None
) -> None:
    output = tmp_path / "stalls.json"
    stalls.main(["--deals", "20", "--output", str(output)])
    result = json.loads(output.read_text(encoding="utf-8"))["stalls"]
    assert result["deals"] == 20
    assert [row["kind"] for row in result["requests"]] == [kind.name for kind in stalls.KINDS]
    for row in result["requests"]:
        assert row["ms"] >= 0 and row["longest_wait_ms"] >= 0 and row["bytes"] > 0
    table = stalls.render(result)
    assert table.startswith("20 deals") and "| `GET /v1/deals/summary` | deals summary |" in table
