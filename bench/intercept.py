"""What `intercept()` costs a test suite. `python -m bench.intercept [--rounds 100]`.

Once per process: importing it and building the app on first use. Then, per test, what the `fintesk_intercept`
fixture does around a test: enter an intercept, the first request of a fresh tenant (through requests, then
an httpx client), the reset of that tenant and the exit; and a repeated request on a tenant already made.
Medians and 95th percentiles over the rounds, in milliseconds, with the machine's load average beside them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from bench.report import write_results

URL = "https://api.fintesk.com/v1/deals"
STEPS = ("enter", "first_request_requests", "first_request_httpx", "reset_and_exit", "repeat_request")


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def measure(rounds: int) -> dict[str, Any]:
    started = time.perf_counter()
    import httpx
    import requests

    from mock_server.interception import intercept

    import_ms = _ms(started)
    started = time.perf_counter()
    with intercept():
        build_ms = _ms(started)
    samples: dict[str, list[float]] = {step: [] for step in STEPS}
    # One httpx client for all rounds: building one loads the CA bundle (about 100 ms on a busy machine), httpx's
    # own cost with or without a mock. requests.get builds its session per call, as many clients do.
    client = httpx.Client()
    for round_number in range(rounds):
        token = f"bench-intercept-{round_number}"
        headers = {"x-api-token": token}
        timed: list[tuple[str, Callable[[], Any]]] = [
            ("first_request_requests", partial(requests.get, URL, params={"limit": 10}, headers=headers)),
            ("first_request_httpx", partial(client.get, f"{URL}/1", headers={"x-api-token": token + "-httpx"})),
            ("repeat_request", partial(requests.get, f"{URL}/1", headers=headers)),
        ]
        started = time.perf_counter()
        active = intercept()
        active.__enter__()
        samples["enter"].append(_ms(started))
        for step, call in timed:
            started = time.perf_counter()
            response = call()
            samples[step].append(_ms(started))
            assert response.status_code == 200, response.text
        started = time.perf_counter()
        active.control.reset(token)
        active.control.reset(token + "-httpx")
        active.__exit__(None, None, None)
        samples["reset_and_exit"].append(_ms(started))
    client.close()
    return {
        "rounds": rounds,
        "import_ms": round(import_ms, 1),
        "first_build_ms": round(build_ms, 1),
        "per_test": {step: _summary(values) for step, values in samples.items()},
        "load_average_1min": round(os.getloadavg()[0], 1),
    }


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 2),
    }


def render(result: dict[str, Any]) -> str:
    lines = [
        f"Once per process: import {result['import_ms']} ms, app built on first use {result['first_build_ms']} ms "
        f"(load average {result['load_average_1min']})",
        "",
        f"Per test ({result['rounds']} rounds) | median ms | p95 ms",
        "--- | ---: | ---:",
    ]
    for step, figures in result["per_test"].items():
        lines.append(f"{step} | {figures['median_ms']} | {figures['p95_ms']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.intercept", description=__doc__)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--output", type=Path, default=None, help="the JSON file (default: bench/results/)")
    args = parser.parse_args(argv)
    result = measure(args.rounds)
    print(render(result))
    print(write_results("intercept", {"intercept": result}, args.output))


if __name__ == "__main__":
    main()
