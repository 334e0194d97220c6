"""A big account's requests run in a worker thread, one at a time; others are answered meanwhile, alike."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_server import DEFAULT_FIXTURES
from mock_server.app import create_app
from mock_server.control import bounded, plane
from mock_server.control.tenancy import Tenants
from mock_server.data import bulk
from mock_server.data.fixtures import load
from mock_server.data.state import export_state
from mock_server.domain.account import Account
from mock_server.domain.activities import _due_key, _in_due_order
from mock_server.domain.clock import Clock
from mock_server.domain.collection import Collection
from mock_server.domain.deal_views import _sort_key, _sortable
from mock_server.handlers import reports
from mock_server.http import envelope
from mock_server.settings import Settings
from tests.conftest import Api, admin
from tests.test_store import close_store, every_kind_of_write, export, restarted, served

WAIT = 60  # seconds; generous, the events below come at once
FRESH = {"cache-control": "no-cache"}


@pytest.fixture
def everything_big(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every account counts as big, the bundled one too."""
    monkeypatch.setattr(bounded, "BIG_ACCOUNT", 0)


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
    real_lock_of = bounded.lock_of

    def watched_lock_of(account: Account) -> asyncio.Lock:
        lock = real_lock_of(account)
        if lock.locked():
            contended.set()
        return lock

    monkeypatch.setattr(bounded, "lock_of", watched_lock_of)
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
        monkeypatch.setattr(bounded, "BIG_ACCOUNT", 0)
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


@pytest.mark.parametrize("chunk", [1, 5000, plane.CHUNK])
def test_an_export_in_chunks_is_the_state_encoded_at_once(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    account = Account(load(DEFAULT_FIXTURES), Clock(), 1)
    whole = envelope.encode(export_state(account))
    biggest = max(map(len, envelope.encoded_pieces(export_state(account), depth=3)))
    monkeypatch.setattr(plane, "CHUNK", chunk)
    chunks = plane._exported(account)
    held = chunks[:]  # a plain list: drawing `chunks` lets them go
    assert len(held) > 1  # the last piece goes alone
    assert all(len(piece) > min(chunk, len(whole)) - biggest for piece in held[:-1])
    assert b"".join(chunks) == whole
    assert chunks == []


def test_an_exports_chunks_are_let_go_off_the_loop_once_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plane, "CHUNK", 5000)
    chunks = plane._exported(Account(load(DEFAULT_FIXTURES), Clock(), 1))
    count = len(chunks)
    let_go: list[tuple[bool, int]] = []

    def emptied(spent: list[bytes]) -> None:
        let_go.append((running_loop(), len(spent)))
        spent.clear()

    monkeypatch.setattr(plane, "_emptied", emptied)

    async def sent() -> bytes:
        body = b"".join([chunk async for chunk in envelope.streamed(chunks)])
        await asyncio.gather(*plane._dropping)
        return body

    assert asyncio.run(sent())
    assert let_go == [(False, count)]  # in a worker thread, every chunk


def test_the_switch_interval_is_short_only_while_big_work_runs(everything_big: None) -> None:
    idle = sys.getswitchinterval()
    account = Account(load(DEFAULT_FIXTURES), Clock(), 1)
    seen: list[float] = []

    async def run() -> None:
        both = [bounded.run(account, lambda: seen.append(sys.getswitchinterval())) for _ in range(2)]
        await asyncio.gather(*both)

    asyncio.run(run())
    assert seen == [bounded.BUSY_SWITCH_S] * 2
    assert sys.getswitchinterval() == idle


def test_a_handler_that_waits_cannot_run_in_a_worker_thread() -> None:
    async def waits() -> None:
        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="waited for something"):
        bounded._completed(waits, {})


@pytest.mark.parametrize("depth", [0, 1, 2, 3, 4, 5])
def test_a_body_encoded_in_pieces_is_the_body_encoded_at_once(depth: int) -> None:
    records = [{"id": number, "name": f"Deal é{number}", "tags": [number, None, {"x": 1.5}]} for number in range(700)]
    body = {
        "success": True,
        "data": [{"deals": records, "totals": {"count": 700}}, {"deals": [], "totals": {}}],
        "records": {"deals": records * 3, "notes": []},
        "random": list(range(625)),
    }
    assert envelope.encode_in_pieces(body, depth) == envelope.encode(body)
    huge = {"records": {"deals": [{"id": 1, "value": 2**70}]}}
    assert envelope.encode_in_pieces(huge, depth) == envelope.encode(huge)


def test_activities_in_due_order_day_by_day_are_those_sorted_at_once() -> None:
    days = [None, "2026-01-02", "2025-12-31", "2026-01-02", None, "2026-01-01"]
    activities = [{"id": number, "due_date": days[number % len(days)], "due_time": ["", "09:00", None][number % 3]}
                  for number in range(60, 0, -1)]  # fmt: skip
    assert _in_due_order(activities) == sorted(map(_due_key, activities))


@pytest.mark.parametrize(
    "values",
    [[3, 1.5, True, -2, 3], [2**60 + 1, 2**60, 1.5, 2**60], ["b", "A", "a", "C", "b"], [2, "a", 1.0, "B", False]],
)
def test_deals_sort_as_their_values_compare(values: list[Any]) -> None:
    deals = [{"id": number, "custom": value} for number, value in enumerate(values)]
    for reverse in (False, True):
        ordered = sorted(deals, key=_sort_key("custom", values), reverse=reverse)
        assert ordered == sorted(deals, key=lambda deal: _sortable(deal["custom"]), reverse=reverse)


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


def test_the_collector_is_paused_while_any_big_work_runs() -> None:
    assert gc.isenabled()
    first_in, second_done = threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        seen.append(gc.isenabled())
        first_in.set()
        assert second_done.wait(WAIT)
        seen.append(gc.isenabled())  # the second work ended meanwhile: still paused for this one

    def second() -> None:
        seen.append(gc.isenabled())

    worker = threading.Thread(target=bounded.uncollected, args=(first,))
    worker.start()
    assert first_in.wait(WAIT)
    bounded.uncollected(second)
    second_done.set()
    worker.join(WAIT)
    assert seen == [False, False, False]
    assert gc.isenabled()


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


def test_what_a_big_work_keeps_is_settled_and_a_small_ones_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    settled: list[int] = []
    monkeypatch.setattr(bulk, "settle", lambda: settled.append(gc.get_count()[0]))
    monkeypatch.setattr(bulk, "MANY_KEPT", 5_000)
    kept: list[Any] = []
    bounded.uncollected(lambda: kept.append([{} for _ in range(10)]))
    assert settled == []
    bounded.uncollected(lambda: kept.append([{} for _ in range(20_000)]))
    assert len(settled) == 1 and settled[0] > 5_000
    assert gc.isenabled()


def test_a_stale_kept_dict_is_emptied_when_its_memo_is_built_again() -> None:
    records = Collection("Thing", [{"id": 1, "name": "one"}])
    first = records.memo("renders", dict)
    first[1] = {"name": "one"}
    assert records.memo("renders", dict) is first  # unchanged records: the same kept dict
    records.add({"name": "two"})
    second = records.memo("renders", dict)
    assert second is not first and second == {} and first == {}


@pytest.mark.parametrize(("for_writes", "write_in_thread"), [(10**9, False), (0, True)])
def test_a_big_accounts_writes_run_on_the_loop_until_it_is_bigger_still(
    everything_big: None, monkeypatch: pytest.MonkeyPatch, for_writes: int, write_in_thread: bool
) -> None:
    monkeypatch.setattr(bounded, "BIG_FOR_WRITES", for_writes)
    in_thread: list[str] = []
    completed = bounded._completed

    def watched(handler: Any, arguments: dict[str, Any]) -> Any:
        in_thread.append(handler.__name__)
        return completed(handler, arguments)

    monkeypatch.setattr(bounded, "_completed", watched)

    async def run(client: httpx.AsyncClient) -> None:
        headers = {"x-api-token": "writes", **FRESH}
        assert (await client.get("/v1/deals/summary", headers=headers)).status_code == 200
        assert (await client.put("/v1/deals/1", json={"value": 777}, headers=headers)).status_code == 200
        assert (await client.get("/v1/deals/1", headers=headers)).json()["data"]["value"] == 777

    scenario(run)
    writes_in_thread = [name for name in in_thread if "update" in name]
    assert bool(writes_in_thread) is write_in_thread
    assert any("summary" in name for name in in_thread)  # reads of a big account always run in a thread
