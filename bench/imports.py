"""State imports: deals per second, and how long other clients wait meanwhile. `python -m bench.imports`.

Two measurements on a generated account exported as a state: `import_state` alone (the build, taking the
records as the server takes a parsed body's), and the control plane's `PUT /__mock__/tenants/{token}/state` served
in process while another client asks `GET /__mock__/health` 10 ms after each answer; the longest wait, from when a
probe meant to ask to its answer, is how long the import held the event loop. Then the imported tenant is reset,
probed the same way until its account has been let go of (in a worker thread, after the answer); and the same
account, written as a JSON fixture folder, is loaded with `POST /__mock__/tenants/{token}/load`, probed alike.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.report import write_results
from mock_server import DEFAULT_FIXTURES
from mock_server.app import create_app
from mock_server.data import bulk, fixtures
from mock_server.data.bulk import no_collection
from mock_server.data.generate import generate_account
from mock_server.data.state import export_state, import_state
from mock_server.domain.account import Account
from mock_server.domain.clock import Clock
from mock_server.settings import Settings

PROBE_EVERY_S = 0.01


def exported(deals: int, seed: int = 1) -> dict[str, Any]:
    fixture = generate_account(fixtures.load(DEFAULT_FIXTURES), deals=deals, seed=seed)
    return export_state(Account(fixture, Clock(), int(fixture.company["api_user_id"]), copy_records=False))


def build_rate(state: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    with no_collection():  # as the server builds it (see `ControlPlane.restore`): the records become the account's
        import_state(state, Clock(), owned=True)
    seconds = time.perf_counter() - started
    deals = len(state["records"]["deals"])
    records = sum(len(items) for items in state["records"].values())
    return {"deals": deals, "records": records, "seconds": round(seconds, 3), "deals_per_s": round(deals / seconds)}


async def served_import(body: bytes, max_import_mb: int) -> dict[str, Any]:
    """The served import of `body`, then a reset of the imported tenant until its account is let go of: for each,
    its seconds and the longest wait of a probe meanwhile."""
    # As `fintesk-mock serve` starts it: the start-up heap frozen, and what a big build keeps frozen after it.
    with no_collection():
        app = create_app(Settings(max_import_mb=max_import_mb))
        gc.freeze()
    tenants = app.state["tenants"]
    tenants.settle = bulk.settle = gc.freeze
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mock", timeout=600) as client:
        await client.get("/__mock__/health")

        async def put() -> None:
            response = await client.put("/__mock__/tenants/bench/state", content=body,
                                        headers={"content-type": "application/json"})  # fmt: skip
            assert response.status_code == 200, response.text[:500]

        async def reset() -> None:
            response = await client.post("/__mock__/reset", headers={"x-api-token": "bench"})
            assert response.status_code == 200, response.text[:500]
            await tenants.gone()  # the account is let go of in a worker thread after the answer

        served = await probed(client, put)
        served["reset"] = await probed(client, reset)
    return served


async def probed(client: httpx.AsyncClient, action: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    """`action`'s seconds, while another client asks `GET /__mock__/health` 10 ms after each answer, and the
    longest wait of that client."""
    waits: list[float] = []
    probing, done = asyncio.Event(), asyncio.Event()

    async def probe() -> None:
        # A wait runs from when the probe meant to ask (10 ms after the last answer) to its answer, so a loop
        # held while the probe sleeps counts too, not only one held while a request is in flight.
        asked = time.perf_counter()
        while not done.is_set():
            await client.get("/__mock__/health")
            answered = time.perf_counter()
            waits.append(answered - asked)
            probing.set()
            asked = answered + PROBE_EVERY_S
            await asyncio.sleep(PROBE_EVERY_S)

    prober = asyncio.create_task(probe())
    await probing.wait()  # the action starts while the probe sleeps: a loop it holds from the start counts
    started = time.perf_counter()
    await action()
    seconds = time.perf_counter() - started
    done.set()
    await prober
    return {"seconds": round(seconds, 3), "probes": len(waits), "longest_wait_ms": round(max(waits) * 1000, 1)}


async def served_fixture_load(root: Path) -> dict[str, Any]:
    """`POST /__mock__/tenants/{token}/load` of the fixture folder `root / "generated"`, probed as the import is."""
    with no_collection():
        app = create_app(Settings(fixtures=root / "default"))
        gc.freeze()
    app.state["tenants"].settle = bulk.settle = gc.freeze
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock", timeout=600) as client:

        async def load() -> None:
            response = await client.post("/__mock__/tenants/bench/load", json={"fixtures": "generated"})
            assert response.status_code == 200, response.text[:500]

        return await probed(client, load)


def write_fixture_folder(deals: int, root: Path, seed: int = 1) -> None:
    """The generated account of `deals` as a JSON fixture folder `root / "generated"` (as a snapshot writes one),
    beside a copy of the bundled set for the server to start on."""
    shutil.copytree(DEFAULT_FIXTURES, root / "default")
    fixture = generate_account(fixtures.load(DEFAULT_FIXTURES), deals=deals, seed=seed)
    folder = root / "generated"
    folder.mkdir()
    (folder / "company.json").write_bytes(orjson.dumps(fixture.company))
    for name, records in fixture.records.items():
        (folder / f"{name}.json").write_bytes(orjson.dumps(records))


def measure(deals: int) -> dict[str, Any]:
    state = exported(deals)
    body = orjson.dumps(state)
    built = build_rate(state)
    del state  # a server holds the body alone: gigabytes of records kept here would slow its parse
    served = asyncio.run(served_import(body, max_import_mb=max(1, len(body) // 2**20 + 1)))
    served["deals_per_s"] = round(deals / served["seconds"])
    result = {"deals": deals, "body_mb": round(len(body) / 2**20, 1), "build": built, "served": served}
    del body
    with tempfile.TemporaryDirectory() as folder:
        write_fixture_folder(deals, Path(folder))
        result["fixture_load"] = asyncio.run(served_fixture_load(Path(folder)))
    return result


def render(results: Sequence[dict[str, Any]]) -> str:
    header = (
        "| deals | body MB | build s | build deals/s | PUT s | PUT deals/s | longest health wait ms "
        "| reset, let go s | longest health wait ms | fixture load s | longest health wait ms |"
    )
    rows = [
        f"| {r['deals']} | {r['body_mb']} | {r['build']['seconds']} | {r['build']['deals_per_s']} | "
        f"{r['served']['seconds']} | {r['served']['deals_per_s']} | {r['served']['longest_wait_ms']} | "
        f"{r['served']['reset']['seconds']} | {r['served']['reset']['longest_wait_ms']} | "
        f"{r['fixture_load']['seconds']} | {r['fixture_load']['longest_wait_ms']} |"
        for r in results
    ]
    return "\n".join([header, "|---|---|---|---|---|---|---|---|---|---|---|", *rows])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.imports", description=__doc__)
    parser.add_argument("--sizes", default="1000,10000", help="deal counts of the generated accounts")
    parser.add_argument("--output", type=Path, help="JSON file to write (default bench/results/imports-<time>.json)")
    args = parser.parse_args(argv)
    results = [measure(int(size)) for size in args.sizes.split(",") if size.strip()]
    print(render(results))
    write_results("imports", {"imports": results}, args.output)


if __name__ == "__main__":
    main()
