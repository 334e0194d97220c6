"""What a webhook subscription costs the API's answers. `python -m bench.webhooks [--changes 1000]`.

A `fintesk-mock serve` process answers the same burst of deal updates (`PUT /v1/deals/1`, one after another) for
two tenants: one without webhooks, and one with a subscription to every event that a receiver on loopback answers.
The table gives each tenant's answer times, and for the subscribed one how long after the first change the receiver
had every delivery, and whether they came in the order of the changes. The receiver runs in a process of its
own, so its work does not slow the client that times the answers. The machine's load average is recorded before
and after: on a shared machine the figures move with it.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import statistics
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from bench.kinds import TOKEN
from bench.report import write_results
from bench.servers import start_mock
from contract_tests.receiver import Receiver

PLAIN, HOOKED = "bench-plain", "bench-hooked"
WAIT_S = 600.0  # the longest the deliveries may take to arrive


def _receive(conn: Connection) -> None:
    """The receiver's process: sends its URL, then for each count asked the deal names of that many deliveries
    more (None if they did not come within WAIT_S)."""
    receiver = Receiver()
    conn.send(receiver.url)
    try:
        while (count := conn.recv()) is not None:
            try:
                conn.send([delivery.json["current"]["name"] for delivery in receiver.wait(count, timeout=WAIT_S)])
            except AssertionError:
                conn.send(None)
    finally:
        receiver.close()


class ReceiverProcess:
    """A `Receiver` on loopback in a process of its own."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_receive, args=(child,), name="webhook-receiver", daemon=True)
        self._process.start()
        if not self._conn.poll(60):
            raise RuntimeError("the receiver's process did not start")
        self.url: str = self._conn.recv()

    def wait(self, count: int) -> list[str]:
        """The deal names of the next `count` deliveries, in the order they came."""
        self._conn.send(count)
        names = self._conn.recv() if self._conn.poll(WAIT_S + 10) else None
        if names is None:
            raise RuntimeError(f"{count} deliveries did not arrive within {WAIT_S:g} s")
        return list(names)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # the process ended already
            self._conn.send(None)
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=10)


def burst(client: httpx.Client, changes: int) -> list[float]:
    """`changes` deal updates, one after another: each answer's time in ms."""
    times = []
    for number in range(changes):
        started = time.perf_counter()
        response = client.put("/deals/1", json={"name": f"Change {number}"})
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return times


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"p50_ms": statistics.median(ordered), "p95_ms": ordered[int(len(ordered) * 0.95) - 1],
            "mean_ms": statistics.fmean(ordered), "max_ms": ordered[-1]}  # fmt: skip


def measure(changes: int) -> dict[str, Any]:
    load_before = os.getloadavg()
    receiver = ReceiverProcess()
    server = start_mock(tokens=(TOKEN, PLAIN, HOOKED))
    try:
        with httpx.Client(base_url=server.base_url, headers={"x-api-token": PLAIN}, timeout=60) as plain:
            burst(plain, min(changes, 100))  # warm-up: the tenant, the handlers, the connection
            without = burst(plain, changes)
        with httpx.Client(base_url=server.base_url, headers={"x-api-token": HOOKED}, timeout=60) as hooked:
            hook = {"subscription_url": receiver.url, "event_action": "*", "event_object": "*", "version": "1.0"}
            hooked.post("/webhooks", json=hook).raise_for_status()
            burst(hooked, min(changes, 100))
            receiver.wait(min(changes, 100))
            started = time.perf_counter()
            with_hook = burst(hooked, changes)
            names = receiver.wait(changes)
            delivered_s = time.perf_counter() - started
        return {
            "changes": changes,
            "without_webhooks": summary(without),
            "with_webhook": summary(with_hook),
            "all_delivered_s": delivered_s,
            "in_order": names == [f"Change {number}" for number in range(changes)],
            "load_average": {"before": load_before[0], "after": os.getloadavg()[0]},
        }
    finally:
        server.stop()
        receiver.close()


def render(result: dict[str, Any]) -> str:
    lines = [
        f"{result['changes']} deal updates, one after another",
        "",
        "| tenant | p50 ms | p95 ms | mean ms | max ms |",
        "|---|---|---|---|---|",
    ]
    for label, key in (("no webhooks", "without_webhooks"), ("one webhook (every event)", "with_webhook")):
        row = result[key]
        lines.append(f"| {label} | {row['p50_ms']:.2f} | {row['p95_ms']:.2f} | {row['mean_ms']:.2f} | "
                     f"{row['max_ms']:.2f} |")  # fmt: skip
    order = "in order" if result["in_order"] else "OUT OF ORDER"
    lines += ["", f"Every delivery received {result['all_delivered_s']:.2f} s after the first change, {order}."]
    load = result["load_average"]
    lines.append(f"Load average (1 min) {load['before']:.2f} before, {load['after']:.2f} after.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--changes", type=int, default=1000, help="deal updates per tenant (default 1000)")
    parser.add_argument("--output", type=Path, help="where to write the JSON (default bench/results/)")
    args = parser.parse_args(argv)
    result = measure(args.changes)
    path = write_results("webhooks", {"webhooks": result}, args.output)
    print(render(result))
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
