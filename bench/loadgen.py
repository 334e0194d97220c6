"""A bounded asyncio/httpx load generator, used where wrk is not on PATH, and the result both tools give."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from bench.kinds import RequestKind

# However fast the server, one measurement never sends more than this: the run stays bounded in memory too.
MAX_REQUESTS = 2_000_000


@dataclass(frozen=True)
class LoadResult:
    """One measurement: requests answered 2xx or not, their rate and latency percentiles."""

    tool: str
    connections: int
    requests: int
    duration_s: float
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    errors: int

    @property
    def ok(self) -> bool:
        return self.requests > 0 and self.errors == 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values; None for none."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def summarise(
    latencies_s: list[float], errors: int, duration_s: float, connections: int, tool: str = "python"
) -> LoadResult:
    ordered = sorted(latencies_s)
    p50, p99 = percentile(ordered, 0.50), percentile(ordered, 0.99)
    return LoadResult(
        tool=tool,
        connections=connections,
        requests=len(ordered),
        duration_s=round(duration_s, 3),
        rps=len(ordered) / duration_s if duration_s > 0 else 0.0,
        p50_ms=None if p50 is None else p50 * 1000,
        p99_ms=None if p99 is None else p99 * 1000,
        errors=errors,
    )


async def _worker(
    client: httpx.AsyncClient, kind: RequestKind, url: str, deadline: float, latencies: list[float], errors: list[int]
) -> None:
    body = kind.body_text() or None
    while time.perf_counter() < deadline and len(latencies) < MAX_REQUESTS:
        started = time.perf_counter()
        try:
            response = await client.request(kind.method, url, content=body)
        except httpx.HTTPError:
            errors[0] += 1
            await asyncio.sleep(0.01)  # a refused connection fails at once: do not spin on it until the deadline
            continue
        latencies.append(time.perf_counter() - started)
        if not 200 <= response.status_code < 300:
            errors[0] += 1


async def run_async(
    base_url: str, kind: RequestKind, token: str, connections: int, duration_s: float, timeout_s: float = 30
) -> LoadResult:
    """Keep `connections` requests of `kind` in flight for `duration_s` seconds, each on its own connection."""
    headers = {"x-api-token": token, "content-type": "application/json", **kind.headers}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    latencies: list[float] = []
    errors = [0]
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=timeout_s) as client:
        started = time.perf_counter()
        deadline = started + duration_s
        url = base_url + kind.path
        await asyncio.gather(*(_worker(client, kind, url, deadline, latencies, errors) for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return summarise(latencies, errors[0], elapsed, connections)


def run(base_url: str, kind: RequestKind, token: str, connections: int, duration_s: float) -> LoadResult:
    return asyncio.run(run_async(base_url, kind, token, connections, duration_s))
