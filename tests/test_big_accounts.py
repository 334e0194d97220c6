"""A big account's requests run in a worker thread, one at a time; others are answered meanwhile, alike; big
answers are streamed."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_server.app import create_app
from mock_server.control import plane
from mock_server.control.tenancy import Tenants
from mock_server.domain.account import Account
from mock_server.handlers import reports
from mock_server.http import big_accounts
from mock_server.settings import Settings
from tests.conftest import Api, admin
from tests.test_store import close_store, every_kind_of_write, export, restarted, served

WAIT = 60  # seconds; generous, the events below come at once
FRESH = {"cache-control": "no-cache"}


@pytest.fixture
def everything_big(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every account counts as big, the bundled one too."""
    monkeypatch.setattr(big_accounts, "BIG_ACCOUNT", 0)


def held_summary(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event, list[bool]]:
    """The deals summary stopped inside its work until released: (entered, release, whether a loop ran it)."""
    entered, release = threading.Event(), threading.Event()
    on_loop: list[bool] = []
    real = reports.deals_summary

    def held(*args: Any, **kwargs: Any) -> Any:
        on_loop.append(running_loop())
        entered.set()
        assert release.wait(WAIT), "the test never released the summary"
        return real(*args, **kwargs)

    monkeypatch.setattr(reports, "deals_summary", held)
    return entered, release, on_loop


def watch_contention(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """An event set when a caller finds an account's lock taken: it is about to wait for it (nothing runs
    between the lookup and its waiting)."""
    contended = asyncio.Event()
    real_lock_of = big_accounts.lock_of

    def watched_lock_of(account: Account) -> asyncio.Lock:
        lock = real_lock_of(account)
        if lock.locked():
            contended.set()
        return lock

    monkeypatch.setattr(big_accounts, "lock_of", watched_lock_of)
    return contended


def running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def scenario(run: Callable[[httpx.AsyncClient], Awaitable[None]], **settings: Any) -> None:
    app = create_app(Settings(**settings))

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock") as client:
            await run(client)

    asyncio.run(go())


def test_the_loop_answers_others_while_a_big_accounts_request_works(
    everything_big: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release, on_loop = held_summary(monkeypatch)

    async def run(client: httpx.AsyncClient) -> None:
        summary = asyncio.create_task(client.get("/v1/deals/summary", headers={"x-api-token": "busy"}))
        assert await asyncio.to_thread(entered.wait, WAIT)
        # The summary is stuck in its worker thread: the control plane and another tenant are answered.
        assert (await client.get("/__mock__/health")).json()["status"] == "ok"
        other = await client.get("/v1/deals/1", headers={"x-api-token": "other"})
        assert other.status_code == 200 and other.json()["data"]["id"] == 1
        assert not summary.done()
        release.set()
        answer = await summary
        assert answer.status_code == 200 and answer.json()["success"] is True
        assert answer.json()["data"]["total_count"] > 0
        assert on_loop == [False]

    scenario(run)


def test_a_small_accounts_request_runs_on_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    _, release, on_loop = held_summary(monkeypatch)
    release.set()

    async def run(client: httpx.AsyncClient) -> None:
        assert (await client.get("/v1/deals/summary", headers={"x-api-token": "small"})).status_code == 200
        assert on_loop == [True]

    scenario(run)


def test_a_big_accounts_requests_take_turns(everything_big: None, monkeypatch: pytest.MonkeyPatch) -> None:
    entered, release, _ = held_summary(monkeypatch)
    contended = watch_contention(monkeypatch)
    headers = {"x-api-token": "turns", **FRESH}

    async def run(client: httpx.AsyncClient) -> None:
        release.set()
        before = (await client.get("/v1/deals/summary", headers=headers)).json()["data"]
        entered.clear()
        release.clear()
        summary = asyncio.create_task(client.get("/v1/deals/summary", headers=headers))
        assert await asyncio.to_thread(entered.wait, WAIT)
        write = asyncio.create_task(client.put("/v1/deals/1", json={"value": 1_000_000}, headers=headers))
        await asyncio.wait_for(contended.wait(), WAIT)
        assert not write.done()
        release.set()
        # The summary was held with the write waiting for the account: it still sees the account before the write.
        assert (await summary).json()["data"] == before
        assert (await write).status_code == 200
        after = (await client.get("/v1/deals/summary", headers=headers)).json()["data"]
        assert after != before

    scenario(run)


def test_a_big_accounts_answers_are_those_of_a_small_one(monkeypatch: pytest.MonkeyPatch) -> None:
    token = "alike"
    headers = {"x-api-token": token, **FRESH}
    paths = [
        "/v1/deals?limit=20",
        "/v1/deals?sort=value%20DESC,id%20ASC&limit=30",
        "/v1/deals?filter_id=1",
        "/v1/deals/summary",
        "/v1/deals/timeline?start_date=2025-01-01&interval=quarter&amount=8&field_key=add_time",
        "/v1/deals/2",
        "/v1/activities?limit=50",
        "/v1/itemSearch?term=Oy",
        "/v1/deals/999999",
        f"/__mock__/tenants/{token}/state",
    ]

    async def answers(client: httpx.AsyncClient) -> list[tuple[int, bytes]]:
        return [((response := await client.get(path, headers=headers)).status_code, response.content)
                for path in paths]  # fmt: skip

    async def run(client: httpx.AsyncClient) -> None:
        # Frozen, so that ages and rotten times read the same in both rounds whatever second each is read in.
        frozen = await client.post("/__mock__/clock", json={"freeze": "2026-03-01 12:00:00"})
        assert frozen.status_code == 200, frozen.text
        changed = await client.put("/v1/deals/3", json={"value": 4321}, headers=headers)
        assert changed.status_code == 200, changed.text
        inline = await answers(client)
        monkeypatch.setattr(big_accounts, "BIG_ACCOUNT", 0)
        assert await answers(client) == inline
        assert inline[-2][0] == 404 and b"not found" in inline[-2][1]
        assert all(status == 200 for status, _ in inline[:-2] + inline[-1:])

    scenario(run)


def test_a_big_accounts_error_is_its_envelope(everything_big: None) -> None:
    async def run(client: httpx.AsyncClient) -> None:
        missing = await client.get("/v1/deals/999999", headers={"x-api-token": "errors"})
        assert missing.status_code == 404 and missing.json()["success"] is False
        bad = await client.put("/v1/deals/1", json={"stage_id": 999_999}, headers={"x-api-token": "errors"})
        assert bad.status_code in (400, 404) and "stage_id" in bad.json()["error"]

    scenario(run)


def test_a_big_accounts_writes_are_kept_in_the_data_folder(everything_big: None, tmp_path: Path) -> None:
    with served(tmp_path) as client:
        every_kind_of_write(Api(client, "kept-big"))
        before = export(client, "kept-big")
        close_store(client)
    for client in restarted(tmp_path):
        assert export(client, "kept-big") == before


def test_a_big_accounts_export_reads_back(everything_big: None, mock: Any) -> None:
    api = Api(mock, "exported")
    api.data("PUT", "/deals/1", json={"name": "Exported"})
    state = admin(mock, "GET", "/tenants/exported/state")
    admin(mock, "PUT", "/tenants/copy/state", json=state)
    assert Api(mock, "copy").data("GET", "/deals/1")["name"] == "Exported"


def test_a_new_tenant_of_a_big_account_is_made_once_off_the_loop(
    everything_big: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    made: list[bool] = []
    real_made = Tenants._made

    def held_made(self: Tenants, token: str) -> Account:
        made.append(running_loop())
        entered.set()
        assert release.wait(WAIT), "the test never released the new tenant"
        return real_made(self, token)

    monkeypatch.setattr(Tenants, "_made", held_made)
    app = create_app(Settings())
    tenants: Tenants = app.state["tenants"]
    headers = {"x-api-token": "newcomer"}

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock") as client:
            write = asyncio.create_task(client.put("/v1/deals/1", json={"name": "First"}, headers=headers))
            assert await asyncio.to_thread(entered.wait, WAIT)
            read = asyncio.create_task(client.get("/v1/deals/1", headers=headers))

            async def read_waits() -> None:
                while not getattr(tenants._making["newcomer"], "_waiters", None):
                    await asyncio.sleep(0)

            await asyncio.wait_for(read_waits(), WAIT)  # the read waits for the account the write waits for
            assert (await client.get("/__mock__/health")).status_code == 200
            release.set()
            assert (await write).status_code == 200
            assert (await read).status_code == 200
            assert made == [False]
            assert (await client.get("/v1/deals/1", headers=headers)).json()["data"]["name"] == "First"

    asyncio.run(run())


def test_an_import_waits_for_the_big_accounts_request_in_flight(
    everything_big: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release, _ = held_summary(monkeypatch)
    contended = watch_contention(monkeypatch)
    headers = {"x-api-token": "replaced", **FRESH}

    async def run(client: httpx.AsyncClient) -> None:
        state = (await client.get("/__mock__/tenants/replaced/state")).json()
        state["records"]["deals"][0]["name"] = "Imported"
        summary = asyncio.create_task(client.get("/v1/deals/summary", headers=headers))
        assert await asyncio.to_thread(entered.wait, WAIT)
        put = asyncio.create_task(client.put("/__mock__/tenants/replaced/state", json=state))
        await asyncio.wait_for(contended.wait(), WAIT)
        assert not put.done()
        release.set()
        assert (await summary).status_code == 200
        assert (await put).status_code == 200
        deal = (await client.get(f"/v1/deals/{state['records']['deals'][0]['id']}", headers=headers)).json()
        assert deal["data"]["name"] == "Imported"

    scenario(run)


def test_a_scenario_for_one_tenant_is_built_off_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    built_on_loop: list[bool] = []
    real_load = plane.load_scenario

    def watched_load(name: str) -> Any:
        built_on_loop.append(running_loop())
        return real_load(name)

    monkeypatch.setattr(plane, "load_scenario", watched_load)

    async def run(client: httpx.AsyncClient) -> None:
        answer = await client.post("/__mock__/scenarios/deleted-and-lost-deals", json={"token": "scened"})
        assert answer.status_code == 200 and built_on_loop == [False]
        missing = await client.post("/__mock__/scenarios/no-such-scenario", json={"token": "scened"})
        assert missing.status_code == 404 and missing.json()["success"] is False

    scenario(run)


def test_a_state_export_is_streamed_in_chunks_that_make_the_state(everything_big: None, mock: Any) -> None:
    api = Api(mock, "streamed")
    api.data("PUT", "/deals/1", json={"name": "Streamed"})
    with mock.stream("GET", "/__mock__/tenants/streamed/state") as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers  # sent as it is encoded, not as one body
        body = b"".join(response.iter_bytes())
    state = json.loads(body)
    assert state["records"]["deals"][0]["name"] == "Streamed"
    assert state == admin(mock, "GET", "/tenants/streamed/state")
