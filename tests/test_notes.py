"""API tests of notes: list filters, sorting and pages, writes, pins, delete, and the deal's flow."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, assert_error
from tests.fixture_data import fixture


def add_note(api: Api, **body: Any) -> dict[str, Any]:
    note: dict[str, Any] = api.data("POST", "/notes", json={"content": "Call back on Monday.", "deal_id": 60, **body})
    return note


def test_get_notes__lists_every_note_in_id_order_with_names(api: Api) -> None:
    notes = api.data("GET", "/notes?limit=500")

    assert [note["id"] for note in notes] == [note["id"] for note in fixture("notes")]
    first = fixture("notes")[0]
    assert notes[0]["deal"] == {"name": next(d["name"] for d in fixture("deals") if d["id"] == first["deal_id"])}
    assert notes[0]["pinned_to_deal_flag"] is False and notes[0]["active_flag"] is True


@pytest.mark.parametrize("link", ["deal_id", "person_id", "org_id", "user_id"])
def test_get_notes__by_linked_record_or_author(api: Api, link: str) -> None:
    value = next(note[link] for note in fixture("notes") if note[link] is not None)

    notes = api.data("GET", f"/notes?{link}={value}&limit=500")

    assert [note["id"] for note in notes] == [note["id"] for note in fixture("notes") if note[link] == value]


def test_get_notes__unknown_linked_record_is_404(api: Api) -> None:
    assert_error(api.get("/notes?deal_id=99999"), 404, "deal_id")


def test_get_notes__by_date_range_sorted_and_paged(api: Api) -> None:
    stored = [note for note in fixture("notes") if "2026-09-01" <= note["add_time"][:10] <= "2026-10-31"]
    expected = sorted(stored, key=lambda note: note["add_time"], reverse=True)

    first = api.request("GET", "/notes?start_date=2026-09-01&end_date=2026-10-31&sort=add_time DESC&limit=2")
    rest = api.data("GET", "/notes?start_date=2026-09-01&end_date=2026-10-31&sort=add_time DESC&start=2&limit=500")

    assert [note["id"] for note in first.json()["data"] + rest] == [note["id"] for note in expected]
    assert first.json()["additional_data"]["pagination"]["next_start"] == 2


@pytest.mark.parametrize("query", ["sort=color ASC", "sort=id SIDEWAYS", "start_date=2026-10-02&end_date=2026-10-01"])
def test_get_notes__bad_sort_or_backwards_dates_are_400(api: Api, query: str) -> None:
    assert_error(api.get(f"/notes?{query}"), 400)


def test_add_note__is_the_token_users_and_pinned_as_asked(api: Api) -> None:
    note = add_note(api, pinned_to_deal_flag=1)

    assert note["user_id"] == fixture("company")["api_user_id"] and note["user"]["is_you"] is True
    assert note["pinned_to_deal_flag"] is True
    pinned = api.data("GET", "/notes?deal_id=60&pinned_to_deal_flag=1")
    assert [entry["id"] for entry in pinned] == [note["id"]]
    unpinned = api.data("GET", "/notes?deal_id=60&pinned_to_deal_flag=0")
    assert note["id"] not in [entry["id"] for entry in unpinned] and unpinned


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        ({"content": "Orphan"}, 400, "deal_id"),
        ({"content": "Orphan", "deal_id": None}, 400, "person_id"),
        ({"content": "   ", "deal_id": 60}, 400, "content"),
        ({"content": "Ghost", "person_id": 99999}, 404, "person_id"),
        ({"content": "Someone", "deal_id": 60, "user_id": 99999}, 404, "user_id"),
    ],
)
def test_add_note__bad_input(api: Api, body: dict[str, Any], status: int, named: str) -> None:
    assert_error(api.post("/notes", json=body), status, named)


def test_update_note__changes_content_and_links(api: Api) -> None:
    note = add_note(api)

    updated = api.data("PUT", f"/notes/{note['id']}", json={"content": "Moved", "deal_id": None, "org_id": 8})

    assert (updated["content"], updated["deal_id"], updated["org_id"]) == ("Moved", None, 8)
    assert updated["last_update_user_id"] == fixture("company")["api_user_id"]
    assert_error(api.put(f"/notes/{note['id']}", json={"org_id": None}), 400, "attached")
    assert api.data("GET", f"/notes/{note['id']}") == updated


def test_delete_note__is_gone_from_lists_and_from_the_deals_flow(api: Api) -> None:
    note = add_note(api, content="Flow marker")
    flow = api.data("GET", "/deals/60/flow?items=note&limit=500")
    assert note["id"] in [entry["data"]["id"] for entry in flow]

    assert api.data("DELETE", f"/notes/{note['id']}") == {"id": note["id"]}

    assert_error(api.get(f"/notes/{note['id']}"), 404)
    assert note["id"] not in [entry["id"] for entry in api.data("GET", "/notes?deal_id=60")]
    flow = api.data("GET", "/deals/60/flow?items=note&limit=500")
    assert note["id"] not in [entry["data"]["id"] for entry in flow]


def test_a_new_note_is_found_by_deal_search_at_once(api: Api) -> None:
    add_note(api, content="Quokka-shaped brackets wanted")

    hits = api.data("GET", "/deals/search?term=Quokka&fields=notes")["items"]
    assert [hit["item"]["id"] for hit in hits] == [60]
