"""Run wrk with the benchmark's Lua script and read its `--latency` report into a LoadResult."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from bench.kinds import RequestKind
from bench.loadgen import LoadResult

LUA_SCRIPT = Path(__file__).with_name("wrk.lua")
# A search on 100k deals takes seconds; wrk's default 2 s timeout would drop those requests from the figures.
REQUEST_TIMEOUT_S = 30

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DURATION = re.compile(r"^([\d.]+)(us|ms|s|m|h)$")
_REQUESTS = re.compile(r"^\s*(\d+) requests in ([\d.]+(?:us|ms|s|m|h))")
_PERCENTILE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+(\S+)\s*$")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s*(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


class WrkError(RuntimeError):
    """wrk failed or printed something this parser does not understand."""


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_version(path: str) -> str:
    # wrk has no --version: it prints its banner (e.g. "wrk debian/4.1.0-3 [epoll] ...") with the usage.
    completed = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10, check=False)
    first_line = (completed.stdout or completed.stderr).splitlines()[:1]
    return first_line[0].split(" Copyright")[0].strip() if first_line else "unknown"


def duration_ms(text: str) -> float:
    """wrk's duration notation ("850.00us", "1.23ms", "2.00s", "1.50m") in milliseconds."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise WrkError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_output(text: str, connections: int) -> LoadResult:
    """The figures of a `wrk --latency` report: requests, their rate, p50 and p99, non-2xx and socket errors."""
    requests_match = next((m for m in map(_REQUESTS.match, text.splitlines()) if m), None)
    if requests_match is None:
        raise WrkError(f"no request count in wrk's output:\n{text}")
    requests = int(requests_match.group(1))
    elapsed_s = duration_ms(requests_match.group(2)) / 1000
    percentiles = {m.group(1): duration_ms(m.group(2)) for m in map(_PERCENTILE.match, text.splitlines()) if m}
    non_2xx = _NON_2XX.search(text)
    socket_errors = _SOCKET_ERRORS.search(text)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(count) for count in socket_errors.groups())
    return LoadResult(
        tool="wrk",
        connections=connections,
        requests=requests,
        duration_s=round(elapsed_s, 3),
        # Recomputed rather than read from "Requests/sec" so that it agrees with the count at full precision.
        rps=requests / elapsed_s if elapsed_s > 0 else 0.0,
        # wrk prints a distribution even for zero requests; those numbers mean nothing.
        p50_ms=percentiles.get("50") if requests else None,
        p99_ms=percentiles.get("99") if requests else None,
        errors=errors,
    )


def command(path: str, url: str, connections: int, duration_s: int, threads: int) -> list[str]:
    return [
        path,
        f"-t{max(1, min(threads, connections))}",
        f"-c{connections}",
        f"-d{max(1, duration_s)}s",
        f"--timeout={REQUEST_TIMEOUT_S}s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        url,
    ]


def run(
    path: str, base_url: str, kind: RequestKind, token: str, connections: int, duration_s: int, threads: int = 2
) -> LoadResult:
    env = {**os.environ, "BENCH_METHOD": kind.method, "BENCH_BODY": kind.body_text(), "BENCH_TOKEN": token,
           "BENCH_HEADERS": "\n".join(f"{name}: {value}" for name, value in kind.headers.items())}  # fmt: skip
    argv = command(path, base_url + kind.path, connections, duration_s, threads)
    # wrk stops by itself after -d; the timeout only guards against a wedged server or wrk.
    completed = subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=duration_s + REQUEST_TIMEOUT_S + 30, check=False
    )
    if completed.returncode != 0:
        raise WrkError(f"wrk exited with {completed.returncode}: {completed.stderr or completed.stdout}")
    return parse_output(completed.stdout, connections)
