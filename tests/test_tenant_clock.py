"""A clock per tenant: set through the control plane with a token, read by everything that tenant does."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from mock_server.http.tenant import mask_token
from tests.conftest import Api, admin, assert_error
from tests.server import running_server
from tests.test_filter_api import cond, filtered


def freeze(client: TestClient, moment: str, token: str | None = None) -> Any:
    return admin(client, "POST", "/clock", json={"freeze": moment, **({"token": token} if token else {})})


def add_time(api: Api) -> str:
    stamp: str = api.data("POST", "/deals", json={"name": "Clock probe", "person_id": 1})["add_time"]
    return stamp


def test_freezing_a_tenants_clock_stamps_only_its_writes(mock: TestClient) -> None:
    alice, bob = Api(mock, "alice"), Api(mock, "bob")
    freeze(mock, "2020-02-02 10:00:00", token="alice")
    assert add_time(alice) == "2020-02-02 10:00:00"
    assert add_time(bob) > "2025-01-01 00:00:00"
    assert admin(mock, "GET", "/clock")["frozen"] is False


def test_a_tenant_without_a_clock_of_its_own_follows_the_server_clock(mock: TestClient) -> None:
    alice, bob = Api(mock, "alice"), Api(mock, "bob")
    freeze(mock, "2030-03-03 03:00:00", token="alice")
    freeze(mock, "2024-01-01 09:00:00")
    assert add_time(bob) == "2024-01-01 09:00:00"
    assert add_time(alice) == "2030-03-03 03:00:00"
    assert admin(mock, "GET", "/clock", params={"token": "bob"}) == {
        "now": "2024-01-01 09:00:00", "frozen": True, "token": mask_token("bob"), "own": False
    }  # fmt: skip


def test_advancing_a_tenants_clock_moves_it_ahead_of_the_server_clock(mock: TestClient) -> None:
    freeze(mock, "2024-01-01 09:00:00")
    clock = admin(mock, "POST", "/clock", json={"advance": "2h", "token": "alice"})
    assert clock == {"now": "2024-01-01 11:00:00", "frozen": True, "token": mask_token("alice"), "own": True}
    admin(mock, "POST", "/clock", json={"advance": "1d"})
    assert admin(mock, "GET", "/clock", params={"token": "alice"})["now"] == "2024-01-02 11:00:00"


def test_resuming_a_tenants_clock_makes_it_follow_the_server_clock_again(mock: TestClient) -> None:
    freeze(mock, "2024-01-01 09:00:00")
    freeze(mock, "2020-01-01 00:00:00", token="alice")
    clock = admin(mock, "POST", "/clock", json={"resume": True, "token": "alice"})
    assert (clock["now"], clock["own"]) == ("2024-01-01 09:00:00", False)


def test_a_tenants_clock_drives_its_rotten_times(mock: TestClient) -> None:
    """Deal 1 entered stage 4 (rotten after 30 days) at 2026-11-13 09:48:57."""
    early, late = Api(mock, "early"), Api(mock, "late")
    freeze(mock, "2026-12-13 09:48:56", token="early")
    freeze(mock, "2026-12-13 09:48:57", token="late")
    assert early.data("GET", "/deals/1")["rotten_time"] is None
    assert late.data("GET", "/deals/1")["rotten_time"] == "2026-12-13 09:48:57"


def test_a_kept_answer_is_not_served_after_the_tenants_clock_moves(mock: TestClient) -> None:
    api = Api(mock, "kept")
    freeze(mock, "2026-12-13 09:48:56", token="kept")
    assert api.data("GET", "/deals/1")["rotten_time"] is None
    admin(mock, "POST", "/clock", json={"advance": "1s", "token": "kept"})
    assert api.data("GET", "/deals/1")["rotten_time"] == "2026-12-13 09:48:57"


def test_relative_dates_in_filters_read_the_tenants_clock(mock: TestClient) -> None:
    past, now = Api(mock, "past"), Api(mock, "now")
    freeze(mock, "2019-06-01 12:00:00", token="past")
    probe = past.data("POST", "/deals", json={"name": "Added in 2019", "person_id": 1})["id"]
    assert filtered(past, [cond("add_time", "=", "today")]) == [probe]
    assert filtered(now, [cond("add_time", "=", "yesterday")]) == []


def test_the_journal_stamps_a_tenants_requests_with_its_time(mock: TestClient) -> None:
    freeze(mock, "2021-05-05 05:05:05", token="alice")
    Api(mock, "alice").data("GET", "/currencies")
    Api(mock, "bob").data("GET", "/currencies")
    [alice_entry] = admin(mock, "GET", "/requests", params={"token": "alice"})
    [bob_entry] = admin(mock, "GET", "/requests", params={"token": "bob"})
    assert alice_entry["time"] == "2021-05-05 05:05:05"
    assert bob_entry["time"] > "2025-01-01 00:00:00"


def test_export_records_the_tenants_clock_and_import_restores_it(mock: TestClient) -> None:
    freeze(mock, "2022-02-22 22:22:22", token="alice")
    state = admin(mock, "GET", "/tenants/alice/state")
    assert state["clock"] == {"frozen": "2022-02-22 22:22:22", "offset_seconds": 0}
    admin(mock, "PUT", "/tenants/carol/state", json=state)
    assert add_time(Api(mock, "carol")) == "2022-02-22 22:22:22"


def test_an_export_of_a_tenant_that_follows_the_server_keeps_following_it(mock: TestClient) -> None:
    state = admin(mock, "GET", "/tenants/alice/state")
    assert state["clock"] == {"frozen": None, "offset_seconds": 0}
    admin(mock, "PUT", "/tenants/carol/state", json=state)
    freeze(mock, "2024-04-04 04:04:04")
    assert add_time(Api(mock, "carol")) == "2024-04-04 04:04:04"


@pytest.mark.parametrize(
    ("clock", "fragment"),
    [
        ({"frozen": "2024-02-30 10:00:00", "offset_seconds": 0}, "clock: field 'frozen'"),
        ({"frozen": None, "offset_seconds": 10**12}, "clock: field 'offset_seconds'"),
        ({"frozen": None}, "field 'clock'"),
    ],
)
def test_import_of_a_bad_clock_is_400_naming_the_field(mock: TestClient, clock: Any, fragment: str) -> None:
    state = {**admin(mock, "GET", "/tenants/alice/state"), "clock": clock}
    assert_error(mock.put("/__mock__/tenants/carol/state", json=state), 400, fragment)


def test_advancing_past_the_end_of_time_is_400_and_changes_nothing(mock: TestClient) -> None:
    freeze(mock, "9998-12-30 00:00:00", token="alice")
    response = mock.post("/__mock__/clock", json={"token": "alice", "freeze": "9998-12-31 00:00:00", "advance": "2d"})
    assert_error(response, 400, "advance")
    assert admin(mock, "GET", "/clock", params={"token": "alice"})["now"] == "9998-12-30 00:00:00"


def test_a_frozen_tenant_clock_never_freezes_a_429(mock: TestClient) -> None:
    """The rate-limit window runs in real time: after a 429 the tenant gets in again while its clock stands still."""
    freeze(mock, "2024-01-01 09:00:00", token="alice")
    admin(mock, "PUT", "/rate-limit", json={"limit": 1, "token": "alice"})
    api = Api(mock, "alice")
    assert api.get("/currencies").status_code == 200
    refused = api.get("/currencies")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    deadline = time.monotonic() + 60
    while (status := api.get("/currencies").status_code) == 429 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status == 200
    assert admin(mock, "GET", "/clock", params={"token": "alice"})["now"] == "2024-01-01 09:00:00"


def test_two_tenants_with_different_frozen_times_run_concurrently() -> None:
    """Two clients write at the same time over HTTP, each tenant frozen at its own time; each sees only its own."""
    moments = {"tenant-2020": "2020-01-01 08:00:00", "tenant-2030": "2030-01-01 08:00:00"}
    with running_server("--log-level", "warning") as base_url:
        for token, moment in moments.items():
            httpx.post(f"{base_url}/__mock__/clock", json={"freeze": moment, "token": token}).raise_for_status()
        start = threading.Barrier(len(moments))
        seen: dict[str, set[str]] = {}

        def write(token: str) -> None:
            with httpx.Client(base_url=f"{base_url}/v1", headers={"x-api-token": token}) as client:
                start.wait(timeout=30)
                stamps = [client.post("/deals", json={"person_id": 1}).json()["data"]["add_time"] for _ in range(20)]
            seen[token] = set(stamps)

        threads = [threading.Thread(target=write, args=(token,)) for token in moments]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert seen == {token: {moment} for token, moment in moments.items()}


@pytest.mark.parametrize(
    ("path", "body"),
    [("/tenants/alice/load", {"fixtures": "default"}), ("/scenarios/deleted-and-lost-deals", {"token": "alice"})],
)
def test_new_data_for_a_tenant_keeps_its_clock(mock: TestClient, path: str, body: dict[str, str]) -> None:
    freeze(mock, "2023-03-03 03:03:03", token="alice")
    admin(mock, "POST", path, json=body)
    assert add_time(Api(mock, "alice")) == "2023-03-03 03:03:03"
