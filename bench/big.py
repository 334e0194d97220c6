"""A big account's cost to everyone else: `python -m bench.big [--deals N]`.

Starts `serve --generate-deals N` (timing how soon it is ready), then sends each heavy request of that account from
a process of its own, reading the whole answer, while another process asks `GET /__mock__/health` every 5 ms, each
time on a new connection. For each heavy request it reports its own time and the longest any health check waited
meanwhile. Then it times a state import of the account's export into another tenant, and on the bundled account
what one more tenant costs in memory. Results go to stdout and `bench/results/big-<time>.json`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from bench.kinds import TOKEN
from bench.servers import start_mock

RESULTS = Path(__file__).resolve().parent / "results"
PROBE_EVERY_S = 0.005
NEW_TENANT = "bench-newcomer"
IMPORTED = "bench-imported"
# Request timeouts: generous, a 2-core machine shared with other work may be slow.
TIMEOUT_S = 600.0

HEAVY: list[tuple[str, str, str]] = [
    ("sort by value", TOKEN, "/v1/deals?sort=value%20DESC&limit=100"),
    ("summary", TOKEN, "/v1/deals/summary"),
    ("timeline, 500 quarters", TOKEN,
     "/v1/deals/timeline?start_date=1900-01-01&interval=quarter&amount=500&field_key=add_time"),
    ("first activities page", TOKEN, "/v1/activities?user_id=0&limit=100"),
    ("first search", TOKEN, "/v1/itemSearch?term=deal&limit=100"),
    ("new tenant's first page", NEW_TENANT, "/v1/deals?limit=100"),
]  # fmt: skip


def probe(base: str, stop: Any, out: Connection) -> None:
    """Ask for health every `PROBE_EVERY_S` on a new connection until `stop` is set; send (start, wait) pairs."""
    seen: list[tuple[float, float]] = []
    while not stop.is_set():
        began = time.time()
        with httpx.Client(timeout=TIMEOUT_S) as client:
            client.get(f"{base}/__mock__/health")
        seen.append((began, time.time() - began))
        time.sleep(max(0.0, PROBE_EVERY_S - (time.time() - began)))
    out.send(seen)


def heavy(base: str, token: str, path: str, save: str | None, out: Connection) -> None:
    """One request, its whole answer read; send (start, end, status, bytes)."""
    began = time.time()
    with httpx.Client(timeout=TIMEOUT_S) as client:
        response = client.get(f"{base}{path}", headers={"x-api-token": token})
    ended = time.time()
    if save is not None:
        Path(save).write_bytes(response.content)
    out.send((began, ended, response.status_code, len(response.content)))


def put_state(base: str, source: str, out: Connection) -> None:
    body = Path(source).read_bytes()
    began = time.time()
    # Sent a megabyte at a time: given one bytes object of hundreds of megabytes, httpx copies what is left of it
    # after every write to the socket, which costs the client seconds the server has no part in.
    with httpx.Client(timeout=TIMEOUT_S) as client:
        response = client.put(f"{base}/__mock__/tenants/{IMPORTED}/state", content=_megabytes(body),
                              headers={"content-type": "application/json",
                                       "content-length": str(len(body))})  # fmt: skip
    out.send((began, time.time(), response.status_code, len(body)))


def _megabytes(body: bytes) -> Iterator[bytes]:
    view = memoryview(body)
    for start in range(0, len(body), 1 << 20):
        yield bytes(view[start : start + (1 << 20)])


def in_process(target: Any, *args: Any) -> Any:
    receive, send = multiprocessing.Pipe(duplex=False)
    process = multiprocessing.Process(target=target, args=(*args, send))
    process.start()
    result = receive.recv()
    process.join()
    return result


def under_probe(base: str, target: Any, *args: Any) -> tuple[Any, float]:
    """`target(*args)` in a process of its own while the probe runs; its result and the longest probe wait
    that began while it ran."""
    stop = multiprocessing.Event()
    receive, send = multiprocessing.Pipe(duplex=False)
    prober = multiprocessing.Process(target=probe, args=(base, stop, send))
    prober.start()
    time.sleep(0.2)  # a few probes before, so the first waits are not the probe's own start-up
    result = in_process(target, *args)
    stop.set()
    seen = receive.recv()
    prober.join()
    began, ended = result[0], result[1]
    waits = [wait for start, wait in seen if began <= start <= ended]
    return result, max(waits, default=0.0)


def tenant_memory(tenants: int) -> float:
    """KB one more tenant of the bundled account costs: RSS after `tenants` new tenants, less RSS before."""
    tokens = [f"bench-tenant-{number}" for number in range(tenants)]
    server = start_mock(tokens=(TOKEN, *tokens))
    try:
        with httpx.Client(timeout=TIMEOUT_S) as client:
            for token in tokens[:5]:  # the first few warm what every tenant shares
                client.get(f"{server.base_url}/deals/1", headers={"x-api-token": token})
            before = server.rss_mb()
            for token in tokens[5:]:
                client.get(f"{server.base_url}/deals/1", headers={"x-api-token": token})
            return (server.rss_mb() - before) * 1024 / (tenants - 5)
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.big", description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--tenants", type=int, default=205, help="tenants made to weigh one (default 205)")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    # The export of a 100k-deal account is about 550 MB: room for importing it back.
    server = start_mock(generate_deals=args.deals, tokens=(TOKEN, NEW_TENANT, IMPORTED),
                        options=["--max-import-mb", "2048"])  # fmt: skip
    try:
        root = server.base_url.removesuffix("/v1")
        print(f"serve --generate-deals {args.deals}: ready in {server.ready_s:.1f} s, "
              f"first page in {server.startup_s:.1f} s, RSS {server.rss_mb():.0f} MB")  # fmt: skip
        with tempfile.TemporaryDirectory() as folder:
            export = str(Path(folder) / "state.json")
            requests: list[tuple[str, str, str, str | None]] = [(*request, None) for request in HEAVY]
            requests.append(("state export", TOKEN, f"/__mock__/tenants/{TOKEN}/state", export))
            for name, token, path, save in requests:
                (began, ended, status, size), waited = under_probe(root, heavy, root, token, path, save)
                rows.append({"request": name, "status": status, "mb": size / 1e6, "s": ended - began,
                             "longest_probe_wait_ms": waited * 1000})  # fmt: skip
            (began, ended, status, size), waited = under_probe(root, put_state, root, export)
            rows.append({"request": "state import", "status": status, "mb": size / 1e6, "s": ended - began,
                         "longest_probe_wait_ms": waited * 1000})  # fmt: skip
        ready = {"ready_s": server.ready_s, "first_page_s": server.startup_s, "rss_mb": server.rss_mb()}
    finally:
        server.stop()
    per_tenant_kb = tenant_memory(args.tenants)
    print(f"{'request':28} {'status':>6} {'MB':>8} {'seconds':>8} {'longest health wait':>20}")
    for row in rows:
        print(f"{row['request']:28} {row['status']:>6} {row['mb']:>8.1f} {row['s']:>8.2f} "
              f"{row['longest_probe_wait_ms']:>17.1f} ms")  # fmt: skip
    print(f"one more tenant of the bundled account: {per_tenant_kb:.0f} KB")
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC)
    result = {"time": stamp.isoformat(), "deals": args.deals, "start": ready, "requests": rows,
              "tenant_kb": per_tenant_kb}  # fmt: skip
    written = RESULTS / f"big-{stamp:%Y%m%dT%H%M%S}.json"
    written.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {written.relative_to(RESULTS.parent.parent)}")


if __name__ == "__main__":
    main()
