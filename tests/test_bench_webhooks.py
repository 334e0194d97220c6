"""The webhook benchmark times a burst of changes with and without a subscription, and checks every delivery came."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from bench import webhooks


def test_the_webhook_benchmark_reports_both_tenants_and_the_deliveries(tmp_path: Path) -> None:
    output = tmp_path / "webhooks.json"
    webhooks.main(["--changes", "30", "--output", str(output)])
    result = json.loads(output.read_text(encoding="utf-8"))["webhooks"]
    assert result["changes"] == 30 and result["in_order"] is True
    for key in ("without_webhooks", "with_webhook"):
        assert 0 < result[key]["p50_ms"] <= result[key]["max_ms"]
    table = webhooks.render(result)
    assert "| no webhooks |" in table and "in order" in table
    assert result["load_average"]["before"] >= 0 and "Load average" in table


def test_the_receivers_process__gives_the_deliveries_in_the_order_they_came() -> None:
    receiver = webhooks.ReceiverProcess()
    try:
        for name in ("First", "Second"):
            httpx.post(receiver.url, json={"current": {"name": name}}, timeout=60).raise_for_status()
        assert receiver.wait(2) == ["First", "Second"]
    finally:
        receiver.close()
