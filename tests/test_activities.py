"""API tests of activities and activity fields: listing, defaults, links, done-ness, bulk delete."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_server import DEFAULT_FIXTURES
from mock_server.data.fixtures import load
from mock_server.domain.account import Account
from mock_server.domain.activities import Activities
from mock_server.domain.clock import Clock
from tests.conftest import Api, assert_error
from tests.fixture_data import RESOURCE_MISSING, by_id, fixture


def api_user_id() -> int:
    return int(fixture("company")["api_user_id"])


def fixture_activity_ids(**wanted: Any) -> set[int]:
    return {
        activity["id"]
        for activity in fixture("activities")
        if all(activity[field] == value for field, value in wanted.items())
    }


def listed_ids(api: Api, query: str = "") -> list[int]:
    return [activity["id"] for activity in api.data("GET", f"/activities?limit=500{query}")]


def first_type() -> dict[str, Any]:
    return min(fixture("activity_types"), key=lambda record: (record["order_nbr"], record["id"]))


def deal_with_person_and_org() -> dict[str, Any]:
    return next(
        deal
        for deal in fixture("deals")
        if deal["person_id"] is not None and deal["org_id"] is not None and deal["active_flag"]
    )


# --- getActivities ------------------------------------------------------------------------------------------------


def test_get_activities__default_lists_the_token_users_activities(api: Api) -> None:
    assert sorted(listed_ids(api)) == sorted(fixture_activity_ids(user_id=api_user_id()))


def test_get_activities__default_follows_the_user_the_token_is_mapped_to(api: Api) -> None:
    maria_id = fixture("company")["tokens"]["token-for-maria"]
    maria = Api(api.client, "token-for-maria")

    activities = maria.data("GET", "/activities?limit=500")

    assert activities
    assert {activity["user_id"] for activity in activities} == {maria_id}
    assert fixture_activity_ids(user_id=maria_id) <= {activity["id"] for activity in activities}


def test_get_activities__user_id_0_lists_every_users_activities(api: Api) -> None:
    assert sorted(listed_ids(api, "&user_id=0")) == sorted(fixture_activity_ids())


def test_get_activities__user_id_lists_that_users_activities(api: Api) -> None:
    assert sorted(listed_ids(api, "&user_id=2")) == sorted(fixture_activity_ids(user_id=2))


def test_get_activities__type_takes_a_comma_separated_list(api: Api) -> None:
    expected = {activity["id"] for activity in fixture("activities") if activity["type"] in ("call", "meeting")}

    assert sorted(listed_ids(api, "&user_id=0&type=call,meeting")) == sorted(expected)


@pytest.mark.parametrize("done", [0, 1])
def test_get_activities__done_filters_on_doneness(api: Api, done: int) -> None:
    assert sorted(listed_ids(api, f"&user_id=0&done={done}")) == sorted(fixture_activity_ids(done=done))


def test_get_activities__start_and_end_date_bound_the_due_date(api: Api) -> None:
    expected = {
        activity["id"] for activity in fixture("activities") if "2026-06-01" <= activity["due_date"] <= "2026-08-31"
    }
    assert expected  # the window must hold something for the test to mean anything

    ids = listed_ids(api, "&user_id=0&start_date=2026-06-01&end_date=2026-08-31")

    assert sorted(ids) == sorted(expected)


def test_get_activities__start_date_leaves_out_activities_without_a_due_date(api: Api) -> None:
    undated = api.data("POST", "/activities", json={"subject": "Someday"})

    ids = listed_ids(api, "&start_date=2000-01-01")

    assert undated["id"] not in ids
    assert sorted(ids) == sorted(fixture_activity_ids(user_id=api_user_id()))


def test_get_activities__ordered_by_due_date_then_time(api: Api) -> None:
    activities = api.data("GET", "/activities?limit=500&user_id=0")

    keys = [(activity["due_date"], activity["due_time"] or "") for activity in activities]
    expected = sorted((activity["due_date"], activity["due_time"] or "") for activity in fixture("activities"))
    assert keys == expected


def test_get_activities__undated_activities_come_last(api: Api) -> None:
    undated = api.data("POST", "/activities", json={"subject": "Someday"})

    assert listed_ids(api)[-1] == undated["id"]


def test_get_activities__first_page_says_more_and_where_to_go_next(api: Api) -> None:
    body = api.get("/activities?user_id=0&limit=5").json()

    assert len(body["data"]) == 5
    assert body["additional_data"]["pagination"] == {
        "start": 0,
        "limit": 5,
        "more_items_in_collection": True,
        "next_start": 5,
    }


def test_get_activities__pages_continue_each_other(api: Api) -> None:
    everything = listed_ids(api, "&user_id=0")
    first = [activity["id"] for activity in api.data("GET", "/activities?user_id=0&limit=7")]
    second = [activity["id"] for activity in api.data("GET", "/activities?user_id=0&limit=7&start=7")]

    assert first + second == everything[:14]


def test_get_activities__last_page_has_no_next_start(api: Api) -> None:
    total = len(fixture("activities"))

    body = api.get(f"/activities?user_id=0&start={total - 2}&limit=5").json()

    assert len(body["data"]) == 2
    assert body["additional_data"]["pagination"] == {
        "start": total - 2,
        "limit": 5,
        "more_items_in_collection": False,
    }


def test_get_activities__unknown_user_id_is_404(api: Api) -> None:
    unknown = max(by_id("users")) + 1

    assert_error(api.get(f"/activities?user_id={unknown}"), 404, RESOURCE_MISSING, "user_id", str(unknown))


def test_get_activities__limit_0_is_400(api: Api) -> None:
    assert_error(api.get("/activities?limit=0"), 400, "limit")


# --- addActivity --------------------------------------------------------------------------------------------------


def test_add_activity__answers_201_with_the_new_activity(api: Api) -> None:
    response = api.post("/activities", json={"subject": "Call back", "due_date": "2027-04-01"})

    assert response.status_code == 201, response.text
    activity = response.json()["data"]
    assert activity["subject"] == "Call back"
    assert activity["due_date"] == "2027-04-01"
    assert activity["id"] > max(by_id("activities"))
    assert api.data("GET", f"/activities/{activity['id']}")["subject"] == "Call back"


def test_add_activity__defaults_to_the_first_type_and_its_name(api: Api) -> None:
    activity = api.data("POST", "/activities", json={})

    assert activity["type"] == first_type()["key_string"]
    assert activity["subject"] == first_type()["name"]


def test_add_activity__default_type_follows_the_type_order(api: Api) -> None:
    meeting = next(record for record in fixture("activity_types") if record["key_string"] == "meeting")
    api.data("PUT", f"/activityTypes/{meeting['id']}", json={"order_nbr": first_type()["order_nbr"] - 1})

    activity = api.data("POST", "/activities", json={})

    assert (activity["type"], activity["subject"]) == ("meeting", meeting["name"])


def test_add_activity__subject_defaults_to_the_given_types_name(api: Api) -> None:
    lunch = next(record for record in fixture("activity_types") if record["key_string"] == "lunch")

    assert api.data("POST", "/activities", json={"type": "lunch"})["subject"] == lunch["name"]


def test_add_activity__defaults_to_the_token_user_undone(api: Api) -> None:
    activity = api.data("POST", "/activities", json={})

    assert activity["user_id"] == api_user_id()
    assert activity["assigned_to_user_id"] == api_user_id()
    assert activity["created_by_user_id"] == api_user_id()
    assert activity["done"] == 0
    assert activity["marked_as_done_time"] is None


def test_add_activity__deal_links_the_deals_person_and_organization(api: Api) -> None:
    deal = deal_with_person_and_org()

    activity = api.data("POST", "/activities", json={"deal_id": deal["id"]})

    assert (activity["deal_id"], activity["person_id"], activity["org_id"]) == (
        deal["id"],
        deal["person_id"],
        deal["org_id"],
    )


def test_add_activity__given_person_wins_over_the_deals_person(api: Api) -> None:
    deal = deal_with_person_and_org()
    other = next(person["id"] for person in fixture("persons") if person["id"] != deal["person_id"])

    activity = api.data("POST", "/activities", json={"deal_id": deal["id"], "person_id": other})

    assert activity["person_id"] == other
    assert activity["org_id"] == deal["org_id"]


def test_add_activity__done_sets_marked_as_done_time(api: Api) -> None:
    activity = api.data("POST", "/activities", json={"done": 1})

    assert activity["done"] == 1
    assert activity["marked_as_done_time"] == activity["add_time"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("type", "carrier_pigeon"), ("deal_id", 9999), ("person_id", 9999), ("org_id", 9999), ("user_id", 9999)],
)
def test_add_activity__unknown_reference_is_404(api: Api, field: str, value: Any) -> None:
    response = api.post("/activities", json={field: value})

    assert_error(response, 404, RESOURCE_MISSING, field, str(value))


def test_add_activity__unknown_reference_adds_nothing(api: Api) -> None:
    api.post("/activities", json={"subject": "Ghost", "person_id": 9999})

    assert sorted(listed_ids(api)) == sorted(fixture_activity_ids(user_id=api_user_id()))


def test_add_activity__deleted_deal_is_404(api: Api) -> None:
    deleted = next(deal for deal in fixture("deals") if deal["active_flag"] is False)

    assert_error(api.post("/activities", json={"deal_id": deleted["id"]}), 404, RESOURCE_MISSING, "deal_id")


def test_add_activity__participant_with_unknown_person_is_404(api: Api) -> None:
    response = api.post("/activities", json={"participants": [{"person_id": 9999, "primary_flag": True}]})

    assert_error(response, 404, RESOURCE_MISSING, "person_id", "9999")


def test_add_activity__participants_are_kept(api: Api) -> None:
    first, second = (person["id"] for person in fixture("persons")[:2])
    participants = [{"person_id": first, "primary_flag": True}, {"person_id": second, "primary_flag": False}]

    activity = api.data("POST", "/activities", json={"participants": participants})

    assert activity["participants"] == participants


def test_add_activity__more_scheduled_in_context_when_deal_has_another_undone_activity(api: Api) -> None:
    deal_id = next(
        activity["deal_id"] for activity in fixture("activities") if activity["deal_id"] and not activity["done"]
    )

    response = api.post("/activities", json={"deal_id": deal_id})

    assert response.json()["additional_data"] == {"more_activities_scheduled_in_context": True}


def deal_without_undone_activities() -> int:
    busy = {activity["deal_id"] for activity in fixture("activities") if not activity["done"]}
    return next(deal["id"] for deal in fixture("deals") if deal["active_flag"] and deal["id"] not in busy)


def test_add_activity__nothing_more_scheduled_on_a_deal_without_undone_activities(api: Api) -> None:
    deal_id = deal_without_undone_activities()

    response = api.post("/activities", json={"deal_id": deal_id})

    assert response.json()["additional_data"] == {"more_activities_scheduled_in_context": False}


def test_add_activity__second_undone_activity_on_a_deal_sees_the_first(api: Api) -> None:
    deal_id = deal_without_undone_activities()
    first = api.post("/activities", json={"deal_id": deal_id})
    second = api.post("/activities", json={"deal_id": deal_id})

    assert first.json()["additional_data"]["more_activities_scheduled_in_context"] is False
    assert second.json()["additional_data"]["more_activities_scheduled_in_context"] is True


def test_add_activity__read_only_fields_are_ignored(api: Api) -> None:
    deal = deal_with_person_and_org()
    body = {"id": 1, "add_time": "2001-01-01 00:00:00", "deal_name": "Not the deal's name", "deal_id": deal["id"]}

    activity = api.data("POST", "/activities", json=body)

    assert activity["id"] > max(by_id("activities"))
    assert activity["add_time"] != "2001-01-01 00:00:00"
    assert activity["deal_name"] == deal["name"]
    assert api.data("GET", "/activities/1")["subject"] == by_id("activities")[1]["subject"]


# --- getActivity --------------------------------------------------------------------------------------------------


def linked_activity() -> dict[str, Any]:
    return next(
        activity
        for activity in fixture("activities")
        if activity["deal_id"] is not None and activity["person_id"] is not None and activity["org_id"] is not None
    )


def test_get_activity__derives_the_names_of_what_it_links_to(api: Api) -> None:
    stored = linked_activity()

    activity = api.data("GET", f"/activities/{stored['id']}")

    assert activity["deal_name"] == by_id("deals")[stored["deal_id"]]["name"]
    assert activity["person_name"] == by_id("persons")[stored["person_id"]]["name"]
    assert activity["org_name"] == by_id("organizations")[stored["org_id"]]["name"]
    assert activity["owner_name"] == by_id("users")[stored["user_id"]]["name"]


def test_get_activity__names_are_null_without_links(api: Api) -> None:
    created = api.data("POST", "/activities", json={})

    activity = api.data("GET", f"/activities/{created['id']}")

    assert (activity["deal_name"], activity["person_name"], activity["org_name"]) == (None, None, None)


def test_get_activity__related_objects_hold_what_it_links_to(api: Api) -> None:
    stored = linked_activity()

    related = api.get(f"/activities/{stored['id']}").json()["related_objects"]

    assert related["user"][str(stored["user_id"])]["name"] == by_id("users")[stored["user_id"]]["name"]
    assert related["person"][str(stored["person_id"])]["name"] == by_id("persons")[stored["person_id"]]["name"]
    assert related["organization"][str(stored["org_id"])]["name"] == by_id("organizations")[stored["org_id"]]["name"]
    assert related["deal"][str(stored["deal_id"])]["name"] == by_id("deals")[stored["deal_id"]]["name"]


def test_get_activity__unknown_id_is_404(api: Api) -> None:
    assert_error(api.get("/activities/9999"), 404, "9999")


# --- updateActivity -----------------------------------------------------------------------------------------------

UNTOUCHED = ("type", "due_date", "due_time", "duration", "user_id", "deal_id", "person_id", "org_id", "done", "note",
             "participants", "marked_as_done_time", "add_time")  # fmt: skip


def test_update_activity__changes_only_the_given_fields(api: Api) -> None:
    stored = linked_activity()
    before = api.data("GET", f"/activities/{stored['id']}")

    after = api.data("PUT", f"/activities/{stored['id']}", json={"subject": "Renamed"})

    assert after["subject"] == "Renamed"
    assert {field: after[field] for field in UNTOUCHED} == {field: before[field] for field in UNTOUCHED}
    assert api.data("GET", f"/activities/{stored['id']}")["subject"] == "Renamed"


def test_update_activity__done_sets_marked_as_done_time(api: Api) -> None:
    undone = next(activity for activity in fixture("activities") if not activity["done"])

    activity = api.data("PUT", f"/activities/{undone['id']}", json={"done": 1})

    assert activity["done"] == 1
    assert activity["marked_as_done_time"] == activity["update_time"]


def test_update_activity__undone_clears_marked_as_done_time(api: Api) -> None:
    done = next(activity for activity in fixture("activities") if activity["done"])

    activity = api.data("PUT", f"/activities/{done['id']}", json={"done": 0})

    assert activity["done"] == 0
    assert activity["marked_as_done_time"] is None


def test_update_activity__done_again_keeps_marked_as_done_time(api: Api) -> None:
    done = next(activity for activity in fixture("activities") if activity["done"])

    activity = api.data("PUT", f"/activities/{done['id']}", json={"done": 1})

    assert activity["marked_as_done_time"] == done["marked_as_done_time"]


def test_update_activity__unknown_type_is_404(api: Api) -> None:
    assert_error(api.put("/activities/1", json={"type": "carrier_pigeon"}), 404, RESOURCE_MISSING, "type")


def test_update_activity__unknown_id_is_404(api: Api) -> None:
    assert_error(api.put("/activities/9999", json={"subject": "Nobody"}), 404, "9999")


# --- deleteActivities ---------------------------------------------------------------------------------------------


def test_delete_activities__answers_the_deleted_ids(api: Api) -> None:
    first, second = sorted(fixture_activity_ids(user_id=api_user_id()))[:2]

    assert api.data("DELETE", f"/activities?ids={first},{second}") == {"id": [first, second]}


def test_delete_activities__deleted_ones_leave_the_list(api: Api) -> None:
    first, second = sorted(fixture_activity_ids(user_id=api_user_id()))[:2]

    api.data("DELETE", f"/activities?ids={first},{second}")

    assert sorted(listed_ids(api)) == sorted(fixture_activity_ids(user_id=api_user_id()) - {first, second})


def test_delete_activities__deleted_one_reads_404(api: Api) -> None:
    api.data("DELETE", "/activities?ids=1")

    assert_error(api.get("/activities/1"), 404, "1")


def test_delete_activities__one_unknown_id_is_404_and_deletes_nothing(api: Api) -> None:
    response = api.delete("/activities?ids=1,9999")

    assert_error(response, 404, "9999")
    assert sorted(listed_ids(api, "&user_id=0")) == sorted(fixture_activity_ids())


# --- getActivityFields --------------------------------------------------------------------------------------------


def test_get_activity_fields__lists_every_field_in_order(api: Api) -> None:
    expected = [field["id"] for field in sorted(fixture("activity_fields"), key=lambda f: (f["order_nbr"], f["id"]))]

    assert [field["id"] for field in api.data("GET", "/activityFields")] == expected


def test_get_activity_fields__answers_one_complete_page(api: Api) -> None:
    pagination = api.get("/activityFields").json()["additional_data"]["pagination"]

    assert pagination["start"] == 0
    assert pagination["more_items_in_collection"] is False
    assert "next_start" not in pagination


# --- the kept due-date order ----------------------------------------------------------------------------------


DUE_DATES = st.one_of(st.none(), st.sampled_from(["2026-01-05", "2026-03-01", "2026-11-25", "2027-02-28"]))
DUE_TIMES = st.one_of(st.none(), st.sampled_from(["09:00", "13:30"]))
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), DUE_DATES, DUE_TIMES),
        st.tuples(st.just("move"), st.integers(min_value=1, max_value=80), DUE_DATES, DUE_TIMES),
        st.tuples(st.just("done"), st.integers(min_value=1, max_value=80)),
        st.tuples(st.just("delete"), st.integers(min_value=1, max_value=80)),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(operations=OPERATIONS, read_first=st.booleans())
def test_due_order__stays_the_sorted_order_through_any_writes(
    operations: list[tuple[Any, ...]], read_first: bool
) -> None:
    """Writes move single entries of the kept order; it must always equal sorting every active activity."""
    template = Account(load(DEFAULT_FIXTURES), Clock(), 1, copy_records=False)
    untouched = [activity["id"] for activity in template.activities.by_due_date()]  # the fork shares this order
    account = template.fork(1, seed=0, clock=Clock())
    if read_first:
        list(account.activities.by_due_date())
    for operation in operations:
        kind, *args = operation
        live = {activity["id"] for activity in account.activities.active()}
        if kind == "add":
            account.activities.create({"subject": "Added", "due_date": args[0], "due_time": args[1]})
        elif args[0] in live and kind == "move":
            account.activities.modify(args[0], {"due_date": args[1], "due_time": args[2]})
        elif args[0] in live and kind == "done":
            account.activities.modify(args[0], {"done": 1})
        elif args[0] in live:
            account.activities.remove([args[0]])
        expected = sorted(account.activities.active(), key=due_key)
        assert [activity["id"] for activity in account.activities.by_due_date()] == [a["id"] for a in expected]
    assert [activity["id"] for activity in template.activities.by_due_date()] == untouched


def due_key(activity: dict[str, Any]) -> tuple[str, str, int]:
    return (activity["due_date"] or "9999-12-31", activity["due_time"] or "", activity["id"])


def fresh_activities(api: Api) -> list[dict[str, Any]]:
    return list(api.data("GET", "/activities", params={"user_id": 0}, headers={"cache-control": "no-cache"}))


def test_get_activities__a_repeated_fresh_list_renders_nothing_again(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    first = fresh_activities(api)
    rendered: list[int] = []
    render = Activities._render

    def counting(self: Activities, activity: dict[str, Any]) -> dict[str, Any]:
        rendered.append(activity["id"])
        return render(self, activity)

    monkeypatch.setattr(Activities, "_render", counting)

    assert fresh_activities(api) == first
    assert rendered == []


def test_get_activities__a_renamed_deal_shows_in_the_next_list(api: Api) -> None:
    deal_id = next(activity["deal_id"] for activity in fresh_activities(api) if activity["deal_id"])
    api.data("PUT", f"/deals/{deal_id}", json={"name": "Renamed for the list"})

    names = {activity["deal_name"] for activity in fresh_activities(api) if activity["deal_id"] == deal_id}

    assert names == {"Renamed for the list"}


def test_activity_render__is_a_copy_the_kept_render_does_not_share() -> None:
    account = Account(load(DEFAULT_FIXTURES), Clock(), 1)
    activity = next(activity for activity in account.activities.active() if activity["participants"])
    copy = account.activities.render(activity)
    copy["subject"] = "changed"
    copy["participants"][0]["person_id"] = -1

    kept = account.activities.render_kept(activity).record
    assert kept["subject"] != "changed" and kept["participants"][0]["person_id"] != -1
