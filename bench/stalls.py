"""How long single requests on a big account hold the event loop. `python -m bench.stalls [--deals 100000]`.

A mock serving a generated account (`--generate-deals`) is driven in process, each request sent straight to the
app (its body counted as it streams, never joined), while another client asks `GET /__mock__/health` every 10 ms
through httpx's ASGI transport on the same event loop. For each request kind the
table gives the request's own time and the longest a health probe waited meanwhile: from when it was due (10 ms
after the previous answer) to its answer. Probes and requests share one loop, so that wait is how long the
request held it. Every request is sent with `Cache-Control: no-cache` (worked out afresh, not a kept answer),
in the order below, so "first" rows pay for what is built on first use. The app starts as `fintesk-mock serve`
starts it (the collector frozen at start-up and after each new tenant).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import orjson
from starlette.types import ASGIApp, Message

from bench.report import write_results
from mock_server.app import create_app
from mock_server.data import bulk
from mock_server.data.bulk import no_collection
from mock_server.settings import Settings

PROBE_EVERY_S = 0.01
TOKEN = "bench-stalls"
FRESH = {"cache-control": "no-cache", "x-api-token": TOKEN}
TIMELINE = "start_date=1990-01-01&interval=quarter&amount=500&field_key=add_time"


@dataclass(frozen=True)
class Kind:
    name: str
    method: str
    path: str
    body: dict[str, Any] | None = None
    token: str = TOKEN


IDLE = "no request (the machine's own noise)"
KINDS = (
    Kind(IDLE, "GET", "/__mock__/health"),
    Kind("page of deals (the tenant's first request)", "GET", "/v1/deals?limit=100"),
    Kind("page of deals", "GET", "/v1/deals?limit=100"),
    Kind("first activities page", "GET", "/v1/activities?limit=100"),
    Kind("activities page", "GET", "/v1/activities?limit=100"),
    Kind("first itemSearch", "GET", "/v1/itemSearch?term=Oy"),
    Kind("itemSearch", "GET", "/v1/itemSearch?term=Oy"),
    Kind("deal search", "GET", "/v1/deals/search?term=Nordic"),
    Kind("deals sorted by value", "GET", "/v1/deals?sort=value%20DESC&limit=100"),
    Kind("deals of a saved filter", "GET", "/v1/deals?filter_id=1&limit=100"),
    Kind("activities of a saved filter", "GET", "/v1/activities?filter_id=3&limit=100"),
    Kind("deals summary", "GET", "/v1/deals/summary"),
    Kind("timeline, 500 quarters", "GET", "/v1/deals/timeline?" + TIMELINE),
    Kind("one deal", "GET", "/v1/deals/1"),
    Kind("create a deal", "POST", "/v1/deals", {"name": "Stall probe", "org_id": 1}),
    Kind("state export", "GET", f"/__mock__/tenants/{TOKEN}/state"),
    Kind("a new tenant's first page", "GET", "/v1/deals?limit=100", token="bench-stalls-2"),
)


@dataclass
class Answer:
    status: int = 0
    size: int = 0
    start: bytes = b""  # the first bytes of the body, for a failure's message


async def asked(app: ASGIApp, kind: Kind, headers: dict[str, str]) -> Answer:
    """`kind` sent to `app` directly, its body counted as it streams and never joined: httpx's ASGI transport
    joins a streamed body on the loop it shares with the probes, which would count the client's work as the
    server's (a 500 MB export in chunks)."""
    body = orjson.dumps(kind.body) if kind.body is not None else b""
    path, _, query = kind.path.partition("?")
    raw_headers = [(b"host", b"mock"), *((name.encode(), value.encode()) for name, value in headers.items())]
    if body:
        raw_headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": kind.method,
             "scheme": "http", "path": unquote(path), "raw_path": path.encode(), "query_string": query.encode(),
             "root_path": "", "headers": raw_headers, "client": ("127.0.0.1", 1), "server": ("mock", 80)}  # fmt: skip
    answer, asked_once = Answer(), asyncio.Event()
    ended = asyncio.Event()

    async def receive() -> Message:
        if not asked_once.is_set():
            asked_once.set()
            return {"type": "http.request", "body": body, "more_body": False}
        await ended.wait()  # the client stays connected until the answer has been sent
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
        elif message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            answer.size += len(chunk)
            if len(answer.start) < 300:
                answer.start += chunk[: 300 - len(answer.start)]
            if not message.get("more_body", False):
                ended.set()

    await app(scope, receive, send)
    ended.set()
    return answer


async def probed(app: ASGIApp, client: httpx.AsyncClient, kind: Kind) -> dict[str, Any]:
    """`kind` sent once while health probes run; its time, status and the longest probe wait."""
    waits: list[float] = []
    done = asyncio.Event()
    started = asyncio.Event()

    async def probe() -> None:
        # The probe after the request's answer is sent too: a request that never let the loop go is measured by it.
        due = time.perf_counter()
        while True:
            stop = done.is_set()
            await client.get("/__mock__/health")
            answered = time.perf_counter()
            waits.append(answered - due)
            started.set()
            if stop:
                return
            due = answered + PROBE_EVERY_S
            await asyncio.sleep(PROBE_EVERY_S)

    prober = asyncio.create_task(probe())
    await started.wait()
    headers = {**FRESH, "x-api-token": kind.token}
    began = time.perf_counter()
    if kind.name == IDLE:
        await asyncio.sleep(0.5)  # the probes alone: how long the machine makes them wait anyway
    answer = await asked(app, kind, headers)
    seconds = time.perf_counter() - began
    done.set()
    await prober
    assert answer.status in (200, 201), f"{kind.name}: {answer.status} {answer.start!r}"
    return {
        "kind": kind.name,
        "request": f"{kind.method} {kind.path}",
        "ms": round(seconds * 1000, 1),
        "bytes": answer.size,
        "longest_wait_ms": round(max(waits) * 1000, 1),
    }


async def served(deals: int) -> dict[str, Any]:
    begun = time.perf_counter()
    # As `fintesk-mock serve` starts: the collector does not walk the start-up heap, nor each new tenant's.
    with no_collection():
        app = create_app(Settings(generate_deals=deals))
        gc.freeze()
    app.state["tenants"].settle = bulk.settle = gc.freeze
    start_up = time.perf_counter() - begun
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mock", timeout=600) as client:
        await client.get("/__mock__/health")
        rows = [await probed(app, client, kind) for kind in KINDS]
    return {"deals": deals, "start_up_s": round(start_up, 2), "requests": rows}


def render(result: dict[str, Any]) -> str:
    header = "| request | kind | ms | longest health wait ms |"
    rows = [f"| `{row['request']}` | {row['kind']} | {row['ms']} | {row['longest_wait_ms']} |"
            for row in result["requests"]]  # fmt: skip
    return "\n".join([f"{result['deals']} deals", "", header, "|---|---|---|---|", *rows])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stalls", description=__doc__)
    parser.add_argument("--deals", type=int, default=100_000, help="deals of the generated account")
    parser.add_argument("--output", type=Path, help="JSON file to write (default bench/results/stalls-<time>.json)")
    args = parser.parse_args(argv)
    result = asyncio.run(served(args.deals))
    print(render(result))
    write_results("stalls", {"stalls": result}, args.output)


if __name__ == "__main__":
    main()
