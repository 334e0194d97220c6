"""Measurements besides request rates: the served specs' size and answer time, and a full contract check's time."""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx

from bench.kinds import TOKEN
from bench.servers import ROOT, Server, start_mock

# The specs Swagger UI loads, relative to the server's root.
SPEC_PATHS = ("/v1/openapi.json", "/__mock__/openapi.json")
SPEC_REQUESTS = 20
OTHER_TOKEN = "bench-other-token"
# A full check of the bundled account takes about a minute on 2 cores; a wedged run must not hang the benchmark.
CHECK_TIMEOUT_S = 1800
_GENERATED = re.compile(r"(\d+) generated, (\d+) passed")


def root_of(server: Server) -> str:
    """The server's root URL: its API base without the `/v1`."""
    return server.base_url.removesuffix("/v1")


def measure_spec(server: Server) -> dict[str, dict[str, float]]:
    """Per served spec: its size, the first answer's time and the median and slowest of the next ones, in ms."""
    measured: dict[str, dict[str, float]] = {}
    with httpx.Client(timeout=60) as client:
        for path in SPEC_PATHS:
            times, size = [], 0
            for _ in range(1 + SPEC_REQUESTS):
                started = time.perf_counter()
                response = client.get(root_of(server) + path)
                times.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                size = len(response.content)
            measured[path] = {"kb": size / 1024, "first_ms": times[0], "p50_ms": statistics.median(times[1:]),
                              "max_ms": max(times)}  # fmt: skip
    return measured


def check_command(base_url: str) -> list[str]:
    return [sys.executable, "-m", "mock_server", "check", "--base-url", base_url, "--token", TOKEN,
            "--other-token", OTHER_TOKEN, "--seed", "1"]  # fmt: skip


def parse_check_output(text: str) -> int | None:
    """The number of test cases a check run generated, from its summary; None when it printed none."""
    match = _GENERATED.search(text)
    return int(match.group(1)) if match else None


def time_check_run() -> dict[str, Any]:
    """A full `fintesk-mock check` (every phase, default examples) against a fresh mock on the bundled account."""
    server = start_mock(tokens=(TOKEN, OTHER_TOKEN))
    try:
        spec = measure_spec(server)
        started = time.perf_counter()
        completed = subprocess.run(check_command(server.base_url), cwd=ROOT, capture_output=True, text=True,
                                   timeout=CHECK_TIMEOUT_S, check=False)  # fmt: skip
        seconds = time.perf_counter() - started
    finally:
        server.stop()
    return {"spec": spec, "check": {"seconds": round(seconds, 1), "exit_code": completed.returncode,
                                    "cases": parse_check_output(completed.stdout + completed.stderr)}}  # fmt: skip
