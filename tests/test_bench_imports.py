"""The import benchmark measures a real import, and its table and JSON carry the rates."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from bench import imports
from mock_server.data import bulk


def test_the_import_benchmark_reports_deals_per_second_and_the_longest_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "settle", None)  # the benchmark starts the app as serve does: undone after
    output = tmp_path / "imports.json"
    try:
        imports.main(["--sizes", "20", "--output", str(output)])
    finally:
        gc.unfreeze()
    [result] = json.loads(output.read_text(encoding="utf-8"))["imports"]
    assert result["deals"] == 20 and result["build"]["deals"] == 20
    assert result["build"]["records"] > 20
    assert result["build"]["deals_per_s"] > 0 and result["served"]["deals_per_s"] > 0
    assert result["served"]["probes"] >= 1 and result["served"]["longest_wait_ms"] >= 0
    assert "| 20 |" in imports.render([result])
