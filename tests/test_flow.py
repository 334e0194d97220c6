"""API tests of a deal's flow: field changes, activities and notes newest first, filtered and paginated."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from conftest import Api, assert_error

from mock_server import DEFAULT_FIXTURES
from mock_server.data.fixtures import load
from mock_server.domain.account import Account
from mock_server.domain.clock import Clock

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "default"
NOTES_CUSTOM = "f4beed99d98d5b6f05870f6aa865f0efd562b7d9"  # custom varchar deal field
RICH_DEAL = 27  # a fixture deal with one note and three activities
Item = dict[str, Any]


@cache
def _load(name: str) -> Any:
    return yaml.safe_load((FIXTURES / f"{name}.yaml").read_text(encoding="utf-8"))


def fixture_deal(deal_id: int) -> dict[str, Any]:
    return dict(next(deal for deal in _load("deals") if deal["id"] == deal_id))


def fixture_updates(deal_id: int) -> list[tuple[str, str, int]]:
    """(object, timestamp, id) of the deal's fixture activities and notes, newest first."""
    updates = [("activity", activity["add_time"], activity["id"]) for activity in _load("activities")
               if activity["deal_id"] == deal_id and activity["active_flag"]]  # fmt: skip
    updates += [("note", note["add_time"], note["id"]) for note in _load("notes") if note["deal_id"] == deal_id]
    return sorted(updates, key=lambda update: update[1], reverse=True)


def flow(api: Api, deal_id: int, **params: Any) -> list[Item]:
    return list(api.data("GET", f"/deals/{deal_id}/flow", params=params))


def summary(items: list[Item]) -> list[tuple[str, str, int]]:
    return [(item["object"], item["timestamp"], item["data"]["id"]) for item in items]


def changes(items: list[Item]) -> dict[str, Item]:
    return {item["data"]["field_key"]: item["data"] for item in items if item["object"] == "dealChange"}


def new_deal(api: Api, **fields: Any) -> dict[str, Any]:
    return dict(api.data("POST", "/deals", json={"name": "Flow deal", "person_id": 1, "value": 100, **fields}))


def test_flow__fixture_deal_lists_its_activities_and_notes_newest_first(api: Api) -> None:
    items = flow(api, RICH_DEAL)

    assert summary(items) == fixture_updates(RICH_DEAL)


def test_flow__new_deal_has_no_history(api: Api) -> None:
    deal = new_deal(api)

    assert flow(api, deal["id"]) == []


def test_flow__activity_on_the_deal_appears_as_the_rendered_activity(api: Api) -> None:
    deal = new_deal(api)
    activity = api.data("POST", "/activities", json={"subject": "Kick-off call", "deal_id": deal["id"]})

    (item,) = flow(api, deal["id"])

    assert item["object"] == "activity"
    assert item["timestamp"] == activity["add_time"]
    assert item["data"] == api.data("GET", f"/activities/{activity['id']}")


def test_flow__update_shows_each_changed_field_with_old_and_new_value(api: Api) -> None:
    deal = new_deal(api, stage_id=1, value=100)
    api.data("PUT", f"/deals/{deal['id']}", json={"stage_id": 2, "value": 250})

    logged = changes(flow(api, deal["id"]))

    assert (logged["stage_id"]["old_value"], logged["stage_id"]["new_value"]) == (1, 2)
    assert (logged["value"]["old_value"], logged["value"]["new_value"]) == (100, 250)


def test_flow__a_change_carries_the_deal_the_user_and_the_time(api: Api) -> None:
    deal = new_deal(api)
    updated = api.data("PUT", f"/deals/{deal['id']}", json={"value": 999})

    (item,) = [item for item in flow(api, deal["id"]) if item["data"]["field_key"] == "value"]

    assert item["timestamp"] == item["data"]["log_time"] == updated["update_time"]
    assert item["data"]["item_id"] == deal["id"]
    assert item["data"]["user_id"] == _load("company")["api_user_id"]
    assert item["data"]["is_bulk_update_flag"] is False


def test_flow__later_updates_come_first(api: Api) -> None:
    deal = new_deal(api, value=100)
    api.data("PUT", f"/deals/{deal['id']}", json={"value": 200})
    api.data("PUT", f"/deals/{deal['id']}", json={"name": "Renamed"})

    items = flow(api, deal["id"])

    assert [item["data"]["field_key"] for item in items] == ["name", "value"]


def test_flow__unchanged_fields_are_not_logged(api: Api) -> None:
    deal = new_deal(api, value=100)
    api.data("PUT", f"/deals/{deal['id']}", json={"value": 100, "name": deal["name"]})

    assert flow(api, deal["id"]) == []


def test_flow__custom_field_changes_are_hidden_by_default(api: Api) -> None:
    deal = new_deal(api)
    api.data("PUT", f"/deals/{deal['id']}", json={NOTES_CUSTOM: "Call after lunch", "value": 5})

    assert list(changes(flow(api, deal["id"]))) == ["value"]
    assert list(changes(flow(api, deal["id"], all_changes="0"))) == ["value"]


def test_flow__all_changes_includes_custom_field_changes(api: Api) -> None:
    deal = new_deal(api)
    api.data("PUT", f"/deals/{deal['id']}", json={NOTES_CUSTOM: "Call after lunch"})

    logged = changes(flow(api, deal["id"], all_changes="1"))

    assert logged[NOTES_CUSTOM]["old_value"] is None
    assert logged[NOTES_CUSTOM]["new_value"] == "Call after lunch"


def test_flow__items_keeps_only_the_named_kinds(api: Api) -> None:
    api.data("PUT", f"/deals/{RICH_DEAL}", json={"value": 1})

    notes = flow(api, RICH_DEAL, items="note")
    notes_and_changes = flow(api, RICH_DEAL, items="dealChange,note")

    assert summary(notes) == [update for update in fixture_updates(RICH_DEAL) if update[0] == "note"]
    assert {item["object"] for item in notes_and_changes} == {"dealChange", "note"}
    assert len(notes_and_changes) == len(notes) + 1


def test_flow__is_newest_first_across_kinds(api: Api) -> None:
    api.data("PUT", f"/deals/{RICH_DEAL}", json={"stage_id": 5, "value": 1})

    timestamps = [item["timestamp"] for item in flow(api, RICH_DEAL)]

    assert timestamps == sorted(timestamps, reverse=True)
    assert len(timestamps) == len(fixture_updates(RICH_DEAL)) + len(changes(flow(api, RICH_DEAL)))


def test_flow__pages_through_the_history(api: Api) -> None:
    first = api.get(f"/deals/{RICH_DEAL}/flow", params={"limit": 3}).json()
    rest = api.get(f"/deals/{RICH_DEAL}/flow", params={"start": 3, "limit": 3}).json()

    assert first["additional_data"]["pagination"] == {
        "start": 0,
        "limit": 3,
        "more_items_in_collection": True,
        "next_start": 3,
    }
    assert rest["additional_data"]["pagination"]["more_items_in_collection"] is False
    assert summary(first["data"] + rest["data"]) == fixture_updates(RICH_DEAL)


def test_flow__related_objects_name_the_deal_its_person_organization_and_the_changing_user(api: Api) -> None:
    api.data("PUT", f"/deals/{RICH_DEAL}", json={"value": 1})
    record = fixture_deal(RICH_DEAL)

    related = api.get(f"/deals/{RICH_DEAL}/flow", params={"items": "dealChange"}).json()["related_objects"]

    assert str(RICH_DEAL) in related["deal"]
    assert str(record["person_id"]) in related["person"]
    assert str(record["org_id"]) in related["organization"]
    assert str(_load("company")["api_user_id"]) in related["user"]


def test_flow__unknown_deal_is_404(api: Api) -> None:
    assert_error(api.get("/deals/9999/flow"), 404, "9999")


def test_flow__deleted_deal_is_404(api: Api) -> None:
    deleted = next(deal for deal in _load("deals") if deal["status"] == "deleted")

    assert_error(api.get(f"/deals/{deleted['id']}/flow"), 404, str(deleted["id"]))


def test_changes_of__keeps_up_with_the_log_as_it_grows_and_when_it_is_replaced() -> None:
    account = Account(load(DEFAULT_FIXTURES), Clock(), 1)
    account.deals.modify(1, {"name": "First"})
    account.deals.modify(2, {"name": "Other"})
    assert [change["new_value"] for change in account.changes_of(1)] == ["First"]
    account.deals.modify(1, {"value": 7})
    assert [change["new_value"] for change in account.changes_of(1)] == ["First", 7]
    assert [change["new_value"] for change in account.changes_of(2)] == ["Other"]
    account.deal_changes = [change for change in account.deal_changes if change["item_id"] == 2]
    assert account.changes_of(1) == []
    assert [change["new_value"] for change in account.changes_of(2)] == ["Other"]
