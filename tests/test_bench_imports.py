"""The import benchmark measures a real import, and its table and JSON carry the rates."""

from __future__ import annotations

import json
from pathlib import Path

from bench import imports


def test_the_import_benchmark_reports_deals_per_second_and_the_longest_wait(
    tmp_path: Path, started_as_serve_starts: None
) -> None:
    output = tmp_path / "imports.json"
    imports.main(["--sizes", "20", "--output", str(output)])
    [result] = json.loads(output.read_text(encoding="utf-8"))["imports"]
    assert result["deals"] == 20 and result["build"]["deals"] == 20
    assert result["build"]["records"] > 20
    assert result["build"]["deals_per_s"] > 0 and result["served"]["deals_per_s"] > 0
    assert result["served"]["probes"] >= 1 and result["served"]["longest_wait_ms"] >= 0
    reset = result["served"]["reset"]
    assert reset["probes"] >= 1 and reset["seconds"] >= 0 and reset["longest_wait_ms"] >= 0
    loaded = result["fixture_load"]
    assert loaded["probes"] >= 1 and loaded["seconds"] > 0 and loaded["longest_wait_ms"] >= 0
    assert "| 20 |" in imports.render([result])
