"""The intercept benchmark times each step of a test's use of `intercept()` and writes them out."""

from __future__ import annotations

import json
from pathlib import Path

from bench import intercept as bench_intercept


def test_the_intercept_benchmark_reports_every_step(tmp_path: Path) -> None:
    output = tmp_path / "intercept.json"
    bench_intercept.main(["--rounds", "3", "--output", str(output)])
    result = json.loads(output.read_text(encoding="utf-8"))["intercept"]
    assert result["rounds"] == 3
    assert list(result["per_test"]) == list(bench_intercept.STEPS)
    for figures in result["per_test"].values():
        assert 0 < figures["median_ms"] <= figures["p95_ms"]
    assert "first_request_httpx |" in bench_intercept.render(result)
