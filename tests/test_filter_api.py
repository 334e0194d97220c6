"""API tests of saved filters in use: filter_id on lists, condition checks on add and update, filter helpers."""

from __future__ import annotations

import calendar
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from mock_server.domain.filtering import OPERATORS, RELATIVE_DATES, helpers
from tests.conftest import Api, assert_error

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "default"
RESOURCE_MISSING = "A resource required for this operation was not found."
LEAD_SOURCE = "39c4b01fa288e17a6f1d3044b94af98c2282e368"  # enum, options 105-109
INDUSTRIES = "f8ec8764a715ec107d2a7dde236ce2fa0777b56e"  # set, options 110-113
CONTRACT_START = "1883163f1496a54353d35b04a8c37e492496f627"  # date
SAMPLE_VALUES = {"varchar": "Oy", "text": "spare", "int": 5, "double": 50, "monetary": 10000, "date": "2026-10-01",
                 "daterange": "2026-10-01", "time": "10:00", "enum": 106, "set": 110, "status": "open", "user": 1,
                 "person": 1, "org": 1, "stage": 1}  # fmt: skip


@cache
def fixture(name: str) -> Any:
    return yaml.safe_load((FIXTURES / f"{name}.yaml").read_text(encoding="utf-8"))


def field_id(key: str, object_name: str = "deal") -> str:
    return str(next(field["id"] for field in fixture(f"{object_name}_fields") if field["key"] == key))


def cond(key: str, operator: str, value: Any = None, object_name: str = "deal") -> dict[str, Any]:
    return {"object": object_name, "field_id": field_id(key, object_name), "operator": operator, "value": value,
            "extra_value": None}  # fmt: skip


def conditions(all_of: list[dict[str, Any]], any_of: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"glue": "and", "conditions": [{"glue": "and", "conditions": all_of},
                                          {"glue": "or", "conditions": any_of or []}]}  # fmt: skip


def add_filter(api: Api, all_of: list[dict[str, Any]], any_of: list[dict[str, Any]] | None = None,
               filter_type: str = "deals") -> int:  # fmt: skip
    body = {"name": "Test filter", "type": filter_type, "conditions": conditions(all_of, any_of)}
    filter_id: int = api.data("POST", "/filters", json=body)["id"]
    return filter_id


def deal_ids(api: Api, filter_id: int, query: str = "") -> list[int]:
    return [deal["id"] for deal in api.data("GET", f"/deals?filter_id={filter_id}&limit=500{query}")]


def filtered(api: Api, all_of: list[dict[str, Any]], any_of: list[dict[str, Any]] | None = None) -> list[int]:
    return deal_ids(api, add_filter(api, all_of, any_of))


def live_deals() -> list[dict[str, Any]]:
    return [deal for deal in fixture("deals") if deal["status"] != "deleted"]


def ids_where(records: list[dict[str, Any]], test: Any) -> list[int]:
    return [record["id"] for record in records if test(record)]


def post_filter(api: Api, all_of: list[dict[str, Any]], filter_type: str = "deals") -> Any:
    return api.post("/filters", json={"name": "X", "type": filter_type, "conditions": conditions(all_of)})


# --- the fixture filters -----------------------------------------------------------------------------------------


def test_get_deals__big_open_deals_lists_exactly_the_open_deals_over_10000(api: Api) -> None:
    big_open = next(stored for stored in fixture("filters") if stored["name"] == "Big open deals")
    expected = ids_where(fixture("deals"), lambda deal: deal["status"] == "open" and deal["value"] > 10000)

    assert expected  # the fixtures have such deals, so the filter has something to keep
    assert deal_ids(api, big_open["id"]) == expected


def test_get_deals__nordic_leads_lists_the_trade_fair_deals_or_the_deals_named_oy(api: Api) -> None:
    nordic = next(stored for stored in fixture("filters") if stored["name"] == "Nordic leads")
    expected = ids_where(live_deals(), lambda deal: deal.get(LEAD_SOURCE) == 106 or "oy" in deal["name"].casefold())

    assert deal_ids(api, nordic["id"]) == expected


def test_get_activities__my_open_calls_lists_the_undone_calls_of_the_listed_user(api: Api) -> None:
    calls = next(stored for stored in fixture("filters") if stored["name"] == "My open calls")
    user_id = fixture("company")["api_user_id"]
    undone_calls = [activity for activity in fixture("activities")
                    if activity["type"] == "call" and activity["done"] == 0 and activity["active_flag"]]  # fmt: skip

    everyone = api.data("GET", f"/activities?filter_id={calls['id']}&user_id=0&limit=500")
    mine = api.data("GET", f"/activities?filter_id={calls['id']}&limit=500")

    assert sorted(activity["id"] for activity in everyone) == sorted(activity["id"] for activity in undone_calls)
    assert sorted(activity["id"] for activity in mine) == sorted(
        activity["id"] for activity in undone_calls if activity["user_id"] == user_id
    )


@pytest.mark.parametrize("stored", fixture("filters"), ids=lambda stored: stored["name"])
def test_update_filter__every_fixture_filters_conditions_validate(api: Api, stored: dict[str, Any]) -> None:
    record = api.data("PUT", f"/filters/{stored['id']}", json={"conditions": stored["conditions"]})

    assert record["conditions"] == stored["conditions"]


# --- filter_id on the lists ------------------------------------------------------------------------------------------


def test_get_deals__filter_of_type_activity_is_400(api: Api) -> None:
    activity_filter = next(stored for stored in fixture("filters") if stored["type"] == "activity")

    assert_error(api.get(f"/deals?filter_id={activity_filter['id']}"), 400, "filter_id", "'activity'")


def test_get_activities__filter_of_type_deals_is_400(api: Api) -> None:
    deals_filter = next(stored for stored in fixture("filters") if stored["type"] == "deals")

    assert_error(api.get(f"/activities?filter_id={deals_filter['id']}"), 400, "filter_id", "'deals'")


@pytest.mark.parametrize("path", ["/deals", "/activities"])
def test_list__unknown_filter_id_is_404(api: Api, path: str) -> None:
    assert_error(api.get(f"{path}?filter_id=9999"), 404, RESOURCE_MISSING, "filter_id", "9999")


def test_get_deals__filter_combines_with_status(api: Api) -> None:
    filter_id = add_filter(api, [], [cond(LEAD_SOURCE, "=", 106), cond("name", "LIKE '%$%'", "oy")])
    expected = ids_where(
        fixture("deals"),
        lambda deal: deal["status"] == "won" and (deal.get(LEAD_SOURCE) == 106 or "oy" in deal["name"].casefold()),
    )

    assert expected
    assert deal_ids(api, filter_id, "&status=won") == expected


def test_get_deals__filter_paginates_over_the_matches(api: Api) -> None:
    filter_id = add_filter(api, [cond("status", "=", "open")])
    expected = ids_where(fixture("deals"), lambda deal: deal["status"] == "open")

    body = api.get(f"/deals?filter_id={filter_id}&start=5&limit=5").json()

    assert [deal["id"] for deal in body["data"]] == expected[5:10]
    assert body["additional_data"]["pagination"] == {"start": 5, "limit": 5, "more_items_in_collection": True,
                                                     "next_start": 10}  # fmt: skip


def test_get_deals__filter_follows_an_updated_filter(api: Api) -> None:
    filter_id = add_filter(api, [cond("value", ">", 100000)])

    api.data("PUT", f"/filters/{filter_id}", json={"conditions": conditions([cond("value", "<", 1000)])})

    assert deal_ids(api, filter_id) == ids_where(live_deals(), lambda deal: deal["value"] < 1000)


def test_get_deals__filter_follows_changes_to_the_deals(api: Api) -> None:
    filter_id = add_filter(api, [cond("value", ">", 100000)])
    small = ids_where(live_deals(), lambda deal: deal["value"] < 1000)[0]

    api.data("PUT", f"/deals/{small}", json={"value": 500000})

    assert small in deal_ids(api, filter_id)


# --- operators through the API ---------------------------------------------------------------------------------------


def test_get_deals__custom_enum_condition(api: Api) -> None:
    expected = ids_where(live_deals(), lambda deal: deal.get(LEAD_SOURCE) == 108)

    assert expected
    assert filtered(api, [cond(LEAD_SOURCE, "=", 108)]) == expected


def test_get_deals__custom_set_condition_matches_deals_including_the_option(api: Api) -> None:
    expected = ids_where(live_deals(), lambda deal: "112" in str(deal.get(INDUSTRIES, "")).split(","))

    assert len(expected) >= 2
    assert filtered(api, [cond(INDUSTRIES, "=", 112)]) == expected


def test_get_deals__custom_date_with_a_relative_date(api: Api) -> None:
    today = server_today(api)
    last_day = calendar.monthrange(today.year, today.month)[1]
    this_month = (today.replace(day=1).isoformat(), today.replace(day=last_day).isoformat())
    inside = add_deal(api, **{CONTRACT_START: today.isoformat()})
    outside = add_deal(api, **{CONTRACT_START: "2000-01-31"})

    matches = filtered(api, [cond(CONTRACT_START, "=", "this_month")])

    assert inside in matches and outside not in matches
    assert matches == ids_where(
        api.data("GET", "/deals?limit=500"),
        lambda deal: deal.get(CONTRACT_START) is not None and this_month[0] <= deal[CONTRACT_START] <= this_month[1],
    )


def test_get_deals__custom_date_before_a_relative_date_is_before_its_start(api: Api) -> None:
    first_of_year = server_today(api).replace(month=1, day=1)
    before = add_deal(api, **{CONTRACT_START: date(first_of_year.year - 1, 12, 31).isoformat()})
    within = add_deal(api, **{CONTRACT_START: first_of_year.isoformat()})

    matches = filtered(api, [cond(CONTRACT_START, "<", "this_year")])

    assert before in matches and within not in matches
    assert matches == ids_where(
        api.data("GET", "/deals?limit=500"),
        lambda deal: deal.get(CONTRACT_START) is not None and deal[CONTRACT_START] < first_of_year.isoformat(),
    )


def test_get_deals__datetime_field_compares_by_date(api: Api) -> None:
    new_deal = add_deal(api)
    today = server_today(api)

    matches = filtered(api, [cond("add_time", "=", "today")])

    assert new_deal in matches
    assert matches == ids_where(
        api.data("GET", "/deals?limit=500"), lambda deal: deal["add_time"][:10] == today.isoformat()
    )


def test_get_deals__fixed_date_on_a_datetime_field(api: Api) -> None:
    day = fixture("deals")[0]["add_time"][:10]

    assert filtered(api, [cond("add_time", "<=", day)]) == ids_where(
        live_deals(), lambda deal: deal["add_time"][:10] <= day
    )


@pytest.mark.parametrize(
    ("operator", "value", "test"),
    [
        ("LIKE '$%'", "BALTIC", lambda name: name.casefold().startswith("baltic")),
        ("LIKE '%$%'", "sp. z o.o.", lambda name: "sp. z o.o." in name.casefold()),
        ("NOT LIKE '$%'", "baltic", lambda name: not name.casefold().startswith("baltic")),
    ],
)
def test_get_deals__like_operators_on_the_title(api: Api, operator: str, value: str, test: Any) -> None:
    expected = ids_where(live_deals(), lambda deal: test(deal["name"]))

    assert expected
    assert filtered(api, [cond("name", operator, value)]) == expected


def test_get_deals__is_null_lists_the_deals_without_an_organization(api: Api) -> None:
    expected = ids_where(live_deals(), lambda deal: deal["org_id"] is None)

    assert expected
    assert filtered(api, [cond("org_id", "IS NULL")]) == expected


def test_get_deals__is_not_null_on_a_custom_field(api: Api) -> None:
    assert filtered(api, [cond(CONTRACT_START, "IS NOT NULL")]) == ids_where(
        live_deals(), lambda deal: deal.get(CONTRACT_START) is not None
    )


def test_get_deals__linked_id_compares_the_stored_id(api: Api) -> None:
    assert filtered(api, [cond("user_id", "=", 2), cond("stage_id", "!=", 4)]) == ids_where(
        live_deals(), lambda deal: deal["user_id"] == 2 and deal["stage_id"] != 4
    )


def test_get_deals__status_by_option_id(api: Api) -> None:
    lost = next(option["id"] for option in fixture("deal_fields")[8]["options"] if option["label"] == "Lost")

    assert filtered(api, [cond("status", "=", lost)]) == ids_where(live_deals(), lambda deal: deal["status"] == "lost")


def test_get_deals__or_group_needs_one_of_its_conditions_and_the_and_group_all(api: Api) -> None:
    matches = filtered(api, [cond("status", "=", "open")], [cond("value", ">", 100000), cond(LEAD_SOURCE, "=", 105)])

    assert matches == ids_where(
        live_deals(),
        lambda deal: deal["status"] == "open" and (deal["value"] > 100000 or deal.get(LEAD_SOURCE) == 105),
    )


def test_get_deals__derived_fields_are_filtered_as_the_deal_shows_them(api: Api) -> None:
    shown = api.data("GET", "/deals?limit=500")

    assert filtered(api, [cond("next_activity_date", "IS NOT NULL")]) == ids_where(
        shown, lambda deal: deal["next_activity_date"] is not None
    )
    assert filtered(api, [cond("products_count", ">", 0)]) == ids_where(shown, lambda deal: deal["products_count"] > 0)


def test_get_activities__done_by_its_option_id(api: Api) -> None:
    done = next(field for field in fixture("activity_fields") if field["key"] == "done")
    done_option = next(option["id"] for option in done["options"] if option["label"] == "Done")
    filter_id = add_filter(api, [cond("done", "=", done_option, "activity")], filter_type="activity")

    listed = api.data("GET", f"/activities?filter_id={filter_id}&user_id=0&limit=500")

    assert sorted(activity["id"] for activity in listed) == sorted(
        activity["id"] for activity in fixture("activities") if activity["done"] == 1 and activity["active_flag"]
    )


def test_get_deals__filter_on_a_deleted_custom_field_reads_it_as_empty(api: Api) -> None:
    lead_source = field_id(LEAD_SOURCE)
    filter_id = add_filter(api, [cond(LEAD_SOURCE, "IS NULL")])

    api.data("DELETE", f"/dealFields/{lead_source}")

    assert deal_ids(api, filter_id) == ids_where(live_deals(), lambda deal: True)


# --- checks on add and update ----------------------------------------------------------------------------------------


def test_add_filter__operator_the_field_does_not_take_is_400_naming_operator_and_field(api: Api) -> None:
    assert_error(post_filter(api, [cond("value", "LIKE '%$%'", "100")]), 400, "LIKE '%$%'", "'Value'", "monetary")


def test_add_filter__text_for_a_number_field_is_400(api: Api) -> None:
    assert_error(post_filter(api, [cond("value", ">", "lots")]), 400, "'Value'", "takes a number", "'lots'")


def test_add_filter__date_that_is_not_a_date_is_400(api: Api) -> None:
    assert_error(post_filter(api, [cond(CONTRACT_START, "<", "next tuesday")]), 400, "'Contract start'", "YYYY-MM-DD")


def test_add_filter__unknown_enum_option_is_400_listing_the_options(api: Api) -> None:
    assert_error(post_filter(api, [cond(LEAD_SOURCE, "=", 999)]), 400, "'Lead source'", "999", "105")


def test_add_filter__unknown_status_is_400(api: Api) -> None:
    assert_error(post_filter(api, [cond("status", "=", "pending")]), 400, "'Status'", "'pending'")


def test_add_filter__condition_on_another_object_is_400(api: Api) -> None:
    assert_error(post_filter(api, [cond("type", "=", "call", "activity")]), 400, "'activity'", "'deal' fields only")


def test_add_filter__comparison_without_a_value_is_400(api: Api) -> None:
    assert_error(post_filter(api, [cond("value", ">", None)]), 400, "'Value'", "needs a value")


def test_add_filter__groups_in_the_wrong_order_are_400(api: Api) -> None:
    body = {"glue": "and", "conditions": [{"glue": "or", "conditions": []}, {"glue": "and", "conditions": []}]}

    response = api.post("/filters", json={"name": "X", "type": "deals", "conditions": body})

    assert_error(response, 400, "group 1", "'and'")


def test_add_filter__person_filter_is_stored_with_person_conditions(api: Api) -> None:
    name_field = next(field["id"] for field in fixture("person_fields") if field["key"] == "name")
    person_condition = {
        "object": "person",
        "field_id": str(name_field),
        "operator": "=",
        "value": "x",
        "extra_value": None,
    }

    record = api.data(
        "POST", "/filters", json={"name": "People", "type": "persons", "conditions": conditions([person_condition])}
    )

    assert record["conditions"]["conditions"][0]["conditions"] == [person_condition]


def test_add_filter__person_filter_with_a_deal_condition_is_400(api: Api) -> None:
    assert_error(post_filter(api, [cond("name", "=", "x")], filter_type="persons"), 400, "'deal'", "'person'")


def test_update_filter__invalid_condition_is_400_and_changes_nothing(api: Api) -> None:
    stored = fixture("filters")[0]

    response = api.put(f"/filters/{stored['id']}", json={"conditions": conditions([cond("value", "<", "cheap")])})

    assert_error(response, 400, "takes a number")
    assert api.data("GET", f"/filters/{stored['id']}")["conditions"] == stored["conditions"]


# --- getFilterHelpers ----------------------------------------------------------------------------------------------


def test_get_filter_helpers__answers_operators_relative_dates_and_address_components(api: Api) -> None:
    data = api.data("GET", "/filters/helpers")

    assert data == helpers()
    assert list(data["relative_dates"]) == ["Relative date intervals", "Relative dates", "Deal specific"]
    assert data["operators"]["varchar"]["LIKE '%$%'"] == "contains"


def test_get_filter_helpers__needs_a_token(api: Api) -> None:
    assert_error(api.client.get("/v1/filters/helpers"), 401)


@pytest.mark.parametrize("field", fixture("deal_fields"), ids=lambda field: field["key"][:20])
def test_get_filter_helpers__every_operator_listed_for_a_deal_fields_type_is_accepted(
    api: Api, field: dict[str, Any]
) -> None:
    operators = api.data("GET", "/filters/helpers")["operators"][field["field_type"]]
    lines = [cond(field["key"], operator, SAMPLE_VALUES[field["field_type"]]) for operator in operators]

    assert len(add_filter_body(api, lines)["conditions"]["conditions"][0]["conditions"]) == len(operators)


def test_get_filter_helpers__every_relative_date_is_accepted_on_a_date_field(api: Api) -> None:
    keys = [key for section in api.data("GET", "/filters/helpers")["relative_dates"].values() for key in section]

    for start in range(0, len(keys), 16):
        add_filter_body(api, [cond(CONTRACT_START, "=", key) for key in keys[start : start + 16]])
    assert keys == [key for section in RELATIVE_DATES.values() for key in section]


def test_get_filter_helpers__operator_not_listed_for_a_type_is_refused(api: Api) -> None:
    assert "<" not in OPERATORS["enum"]

    assert_error(post_filter(api, [cond(LEAD_SOURCE, "<", 106)]), 400, "'<'", "'Lead source'")


# --- helpers --------------------------------------------------------------------------------------------------------


def add_filter_body(api: Api, all_of: list[dict[str, Any]]) -> Any:
    return api.data("POST", "/filters", json={"name": "Walk", "type": "deals", "conditions": conditions(all_of)})


def add_deal(api: Api, **fields: Any) -> int:
    deal_id: int = api.data("POST", "/deals", json={"name": "Filter probe", "person_id": 1, **fields})["id"]
    return deal_id


def server_today(api: Api) -> date:
    """The server clock's date: a new deal's add time is stamped by it."""
    return date.fromisoformat(api.data("POST", "/deals", json={"name": "Clock probe", "person_id": 1})["add_time"][:10])
