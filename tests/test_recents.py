"""API tests of /recents: what changed since a moment, of the kinds asked for, in the order of change."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.conftest import Api, admin, assert_error
from tests.fixture_data import fixture

START = "2027-01-10 09:00:00"


def at(client: TestClient, api: Api, moment: str) -> None:
    """The tenant's own clock, frozen at `moment`."""
    admin(client, "POST", "/clock", json={"freeze": moment, "token": api.token})


def recents(api: Api, query: str) -> list[tuple[str, int]]:
    return [(item["item"], item["id"]) for item in api.data("GET", f"/recents?{query}&limit=500")]


def test_recents__lists_changes_of_every_kind_in_the_order_of_change(client: TestClient, api: Api) -> None:
    at(client, api, START)
    deal = api.data("POST", "/deals", json={"person_id": 1})
    at(client, api, "2027-01-10 09:00:05")
    note = api.data("POST", "/notes", json={"content": "First", "deal_id": deal["id"]})
    stage = api.data("POST", "/stages", json={"name": "Late", "pipeline_id": 1})
    at(client, api, "2027-01-10 09:00:09")
    api.data("PUT", f"/deals/{deal['id']}", json={"value": 5})
    api.data("DELETE", "/filters/1")

    # One second, two changes: by id.
    same_second = sorted([(note["id"], "note"), (stage["id"], "stage")])
    assert recents(api, f"since_timestamp={START}") == [
        *[(kind, record_id) for record_id, kind in same_second],
        ("filter", 1),
        ("deal", deal["id"]),
    ]


def test_recents__shows_records_as_their_own_reads_do(client: TestClient, api: Api) -> None:
    at(client, api, START)
    product = api.data("POST", "/products", json={"name": "Recent widget"})

    items = api.data("GET", f"/recents?since_timestamp={START}&items=product")

    assert items == [{"item": "product", "id": product["id"], "data": api.data("GET", f"/products/{product['id']}")}]


def test_recents__deleted_records_are_listed_as_deleted(client: TestClient, api: Api) -> None:
    at(client, api, START)
    deal_id = fixture("deals")[0]["id"]
    api.data("DELETE", f"/deals/{deal_id}")
    api.data("DELETE", "/activities/1")

    items = api.data("GET", f"/recents?since_timestamp={START}&items=deal,activity")

    assert [(item["item"], item["id"]) for item in items] == [("deal", deal_id), ("activity", 1)]
    assert items[0]["data"]["status"] == "deleted" and items[1]["data"]["active_flag"] is False


def test_recents__only_the_kinds_asked_for(client: TestClient, api: Api) -> None:
    at(client, api, START)
    api.data("POST", "/pipelines", json={"name": "Kinds"})
    api.data("POST", "/notes", json={"content": "Kinds", "deal_id": 60})

    assert [kind for kind, _ in recents(api, f"since_timestamp={START}&items=pipeline")] == ["pipeline"]


def test_recents__reads_persons_organizations_and_users_by_update_time(api: Api) -> None:
    since = "2026-01-01 00:00:00"
    listed = recents(api, f"since_timestamp={since}&items=person,organization,user")

    def changed(record: dict[str, Any]) -> str:
        return str(record.get("update_time") or record.get("add_time"))

    expected = sorted(
        [(changed(record), record["id"], order, kind)
         for order, (kind, name) in enumerate((("person", "persons"), ("organization", "organizations"),
                                               ("user", "users")))
         for record in fixture(name) if changed(record) >= since]
    )  # fmt: skip
    assert listed == [(kind, record_id) for _, record_id, _, kind in expected]


def test_recents__pages_carry_the_last_timestamp(api: Api) -> None:
    first = api.request("GET", "/recents?since_timestamp=2000-01-01 00:00:00&items=deal&limit=3").json()
    second = api.data("GET", "/recents?since_timestamp=2000-01-01 00:00:00&items=deal&start=3&limit=3")

    stamps = [item["data"]["update_time"] for item in first["data"] + second]
    assert stamps == sorted(stamps)
    additional = first["additional_data"]
    assert additional["last_timestamp_on_page"] == first["data"][-1]["data"]["update_time"]
    assert additional["since_timestamp"] == "2000-01-01 00:00:00"
    assert additional["pagination"]["next_start"] == 3


def test_recents__needs_a_real_since_timestamp_and_known_kinds(api: Api) -> None:
    assert_error(api.get("/recents"), 400, "since_timestamp")
    assert_error(api.get("/recents?since_timestamp=2026-13-01 00:00:00"), 400, "since_timestamp")
    assert_error(api.get("/recents?since_timestamp=2026-01-01 00:00:00&items=file"), 400, "items")
