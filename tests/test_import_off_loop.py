"""State imports and fixture loads build the new account off the event loop, then swap it in at once."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
from typing import Any

import httpx
import pytest

from mock_server.app import create_app
from mock_server.control import plane
from mock_server.settings import Settings

WAIT = 60  # seconds; generous, the events below come at once


def test_other_clients_are_answered_while_an_import_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    building, release = threading.Event(), threading.Event()
    real_import = plane.import_state

    def held_import(*args: Any, **kwargs: Any) -> Any:
        building.set()
        assert release.wait(WAIT), "the test never let the import finish"
        return real_import(*args, **kwargs)

    monkeypatch.setattr(plane, "import_state", held_import)
    app = create_app(Settings())

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock") as client:
            state = (await client.get("/__mock__/tenants/source/state")).json()
            state["records"]["deals"][0]["name"] = "Imported"
            put = asyncio.create_task(client.put("/__mock__/tenants/target/state", json=state))
            assert await asyncio.to_thread(building.wait, WAIT)
            # The import is stuck in its build: the loop still serves others, and the old account still answers.
            assert (await client.get("/__mock__/health")).status_code == 200
            old = await client.get("/v1/deals/1", headers={"x-api-token": "target"})
            assert old.json()["data"]["name"] != "Imported"
            release.set()
            assert (await put).status_code == 200
            new = await client.get(f"/v1/deals/{state['records']['deals'][0]['id']}", headers={"x-api-token": "target"})
            assert new.json()["data"]["name"] == "Imported"

    asyncio.run(scenario())


def test_a_failed_import_leaves_the_tenant_as_it_was() -> None:
    app = create_app(Settings())

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock") as client:
            headers = {"x-api-token": "kept"}
            await client.put("/v1/deals/1", json={"name": "Before"}, headers=headers)
            state = (await client.get("/__mock__/tenants/kept/state")).json()
            state["records"]["deals"][0]["stage_id"] = 999_999
            assert (await client.put("/__mock__/tenants/kept/state", json=state)).status_code == 400
            assert (await client.get("/v1/deals/1", headers=headers)).json()["data"]["name"] == "Before"

    asyncio.run(scenario())


def test_a_state_of_megabytes_is_imported_and_the_collector_runs_again_after() -> None:
    """A body past a megabyte is parsed with the garbage collector paused; the pause ends with the parse, whether
    the body is accepted or refused."""
    app = create_app(Settings())

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock") as client:
            state = (await client.get("/__mock__/tenants/source/state")).json()
            deals = state["records"]["deals"]
            highest = max(deal["id"] for deal in deals)
            copies = [{**deals[number % len(deals)], "id": highest + 1 + number, "name": f"Copy {number}"}
                      for number in range(4000)]  # fmt: skip
            state["records"]["deals"] = deals + copies
            state["sequences"]["deals"] = highest + len(copies)
            state["index_orders"].pop("deals", None)
            body = json.dumps(state).encode()
            assert len(body) > 1024 * 1024
            put = await client.put("/__mock__/tenants/big/state", content=body,
                                   headers={"content-type": "application/json"})  # fmt: skip
            assert put.status_code == 200, put.text
            assert gc.isenabled()
            last = await client.get(f"/v1/deals/{highest + len(copies)}", headers={"x-api-token": "big"})
            assert last.json()["data"]["name"] == f"Copy {len(copies) - 1}"
            refused = await client.put("/__mock__/tenants/big/state", content=body[:-1],
                                       headers={"content-type": "application/json"})  # fmt: skip
            assert refused.status_code == 400
            assert gc.isenabled()

    asyncio.run(scenario())
