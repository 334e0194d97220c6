"""Unit tests of mock_server.domain.filtering: condition shape, operators per field kind, relative dates, helpers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from mock_server.domain.filtering import (
    ADDRESS_FIELD_COMPONENTS,
    OPERATORS,
    RELATIVE_DATES,
    add_months,
    compile_filter,
    helpers,
)
from mock_server.errors import Invalid, MissingReference

SPEC = Path(__file__).resolve().parent.parent / "spec" / "openapi.yaml"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "default"
TODAY = date(2026, 5, 14)  # a Thursday in the second quarter
LEAD_SOURCE = "39c4b01fa288e17a6f1d3044b94af98c2282e368"
INDUSTRIES = "f8ec8764a715ec107d2a7dde236ce2fa0777b56e"
CONTRACT_START = "1883163f1496a54353d35b04a8c37e492496f627"


def field(field_id: int, key: str, field_type: str, options: Sequence[int] = (), **extra: Any) -> dict[str, Any]:
    return {"id": field_id, "key": key, "name": key.replace("_", " ").capitalize(), "field_type": field_type,
            "options": [{"id": option, "label": f"Option {option}"} for option in options] or None,
            "filtering_allowed": True, **extra}  # fmt: skip


DEAL_FIELDS = {
    record["id"]: record
    for record in [
        field(1, "name", "varchar"),
        field(2, "value", "monetary"),
        field(3, "probability", "double"),
        field(4, "user_id", "user"),
        {**field(5, "status", "status"), "options": [{"id": 101, "label": "Open"}, {"id": 102, "label": "Won"},
                                                     {"id": 103, "label": "Lost"}, {"id": 104, "label": "Deleted"}]},
        field(6, "close_time", "date"),
        field(7, "expected_close_date", "date"),
        field(8, LEAD_SOURCE, "enum", (105, 106, 107)),
        field(9, INDUSTRIES, "set", (110, 111, 112)),
        field(10, "address", "address"),
        field(11, "org_id", "org"),
        field(12, "stage_id", "stage"),
        field(13, CONTRACT_START, "date"),
        field(14, "next_activity_date", "date"),
        field(15, "hidden", "varchar", filtering_allowed=False),
    ]
}  # fmt: skip
ACTIVITY_FIELDS = {
    record["id"]: record
    for record in [
        field(21, "type", "varchar"),
        {**field(22, "done", "enum"), "options": [{"id": 114, "label": "Not done"}, {"id": 115, "label": "Done"}]},
        field(23, "due_time", "time"),
        field(24, "due_date", "date"),
    ]
}


def cond(field_id: int, operator: str, value: Any = None, extra_value: Any = None, object: str = "deal") -> Any:
    return {"object": object, "field_id": str(field_id), "operator": operator, "value": value,
            "extra_value": extra_value}  # fmt: skip


def conditions(all_of: Sequence[Any] = (), any_of: Sequence[Any] = ()) -> dict[str, Any]:
    return {"glue": "and", "conditions": [{"glue": "and", "conditions": list(all_of)},
                                          {"glue": "or", "conditions": list(any_of)}]}  # fmt: skip


def compiled(
    all_of: Sequence[Any] = (), any_of: Sequence[Any] = (), *, object_name: str = "deal", **options: Any
) -> Any:
    fields = DEAL_FIELDS if object_name == "deal" else ACTIVITY_FIELDS
    options.setdefault("today", TODAY)
    return compile_filter(conditions(all_of, any_of), object_name=object_name, find_field=fields.get, **options)


def matching(records: Sequence[dict[str, Any]], *all_of: Any, any_of: Sequence[Any] = (), **options: Any) -> list[int]:
    matches = compiled(all_of, any_of, **options)
    return [record["id"] for record in records if matches(record)]


def values(key: str, *entries: Any) -> list[dict[str, Any]]:
    """Records with ids 1, 2, ... holding these values under `key`; a record without the key holds nothing."""
    return [{"id": number, key: entry} for number, entry in enumerate(entries, start=1)]


def refusal(*all_of: Any, object_name: str = "deal") -> str:
    with pytest.raises(Invalid) as raised:
        compiled(all_of, object_name=object_name)
    return raised.value.message


# --- the shape of conditions --------------------------------------------------------------------------------------


DEALS = [
    {"id": 1, "status": "open", "value": 20000, LEAD_SOURCE: 106, "name": "Acme Oy"},
    {"id": 2, "status": "open", "value": 5000, LEAD_SOURCE: 105, "name": "Baltic AB"},
    {"id": 3, "status": "won", "value": 50000, LEAD_SOURCE: 106, "name": "Nordic Oy"},
    {"id": 4, "status": "open", "value": 15000, LEAD_SOURCE: None, "name": "Carbon GmbH"},
]


def test_compile_filter__every_condition_of_the_and_group_must_hold() -> None:
    assert matching(DEALS, cond(5, "=", "open"), cond(2, ">", 10000)) == [1, 4]


def test_compile_filter__empty_or_group_puts_no_condition() -> None:
    assert matching(DEALS, cond(5, "=", "open"), any_of=[]) == [1, 2, 4]


def test_compile_filter__one_condition_of_the_or_group_is_enough() -> None:
    assert matching(DEALS, any_of=[cond(8, "=", 106), cond(1, "LIKE '%$%'", "gmbh")]) == [1, 3, 4]


def test_compile_filter__and_group_and_or_group_must_both_hold() -> None:
    assert matching(DEALS, cond(5, "=", "open"), any_of=[cond(8, "=", 106), cond(2, "<", 10000)]) == [1, 2]


def test_compile_filter__no_conditions_match_every_record() -> None:
    assert matching(DEALS) == [1, 2, 3, 4]


def test_compile_filter__only_an_and_group_is_accepted() -> None:
    matches = compile_filter({"glue": "and", "conditions": [{"glue": "and", "conditions": [cond(2, ">", 10000)]}]},
                             object_name="deal", find_field=DEAL_FIELDS.get, today=TODAY)  # fmt: skip

    assert [deal["id"] for deal in DEALS if matches(deal)] == [1, 3, 4]


def test_compile_filter__groups_in_the_wrong_order_are_400() -> None:
    swapped = {"glue": "and", "conditions": [{"glue": "or", "conditions": []}, {"glue": "and", "conditions": []}]}

    with pytest.raises(Invalid, match="group 1 must be glued with 'and'"):
        compile_filter(swapped, object_name="deal", find_field=DEAL_FIELDS.get, today=TODAY)


def test_compile_filter__top_level_or_is_400() -> None:
    with pytest.raises(Invalid, match="one 'and' group"):
        compile_filter({**conditions(), "glue": "or"}, object_name="deal", find_field=DEAL_FIELDS.get, today=TODAY)


def test_compile_filter__16_conditions_over_both_groups_are_accepted() -> None:
    assert compiled([cond(2, ">", 1)] * 8, [cond(2, ">", 1)] * 8)({"id": 1, "value": 2})


def test_compile_filter__17_conditions_are_400_naming_the_limit_and_the_count() -> None:
    with pytest.raises(Invalid, match="at most 16 conditions; these conditions have 17"):
        compiled([cond(2, ">", 1)] * 9, [cond(2, ">", 1)] * 8)


def test_compile_filter__condition_on_another_object_is_400() -> None:
    message = refusal(cond(21, "=", "call", object="activity"))

    assert "'activity'" in message and "'deal' fields only" in message


def test_compile_filter__unknown_field_id_is_a_missing_field_id() -> None:
    with pytest.raises(MissingReference, match="field_id '999'") as raised:
        compiled([cond(999, "=", "x")])

    assert raised.value.field == "field_id"


def test_compile_filter__field_id_that_is_not_a_number_is_a_missing_field_id() -> None:
    with pytest.raises(MissingReference, match="field_id 'name'"):
        compiled([{**cond(1, "=", "x"), "field_id": "name"}])


def test_compile_filter__field_not_allowed_in_filters_is_400() -> None:
    assert "cannot be used in filters" in refusal(cond(15, "=", "x"))


def test_compile_filter__operator_the_field_type_does_not_take_is_400_naming_operator_and_field() -> None:
    message = refusal(cond(2, "LIKE '%$%'", "100"))

    assert "LIKE '%$%'" in message and "'Value'" in message and "monetary" in message


def test_compile_filter__value_missing_for_a_comparison_is_400() -> None:
    assert "needs a value" in refusal(cond(2, ">", None))


def test_compile_filter__message_says_which_condition_is_wrong() -> None:
    with pytest.raises(Invalid, match="Condition 2 of the 'or' group"):
        compiled([], [cond(2, ">", 1), cond(2, ">", "lots")])


def test_compile_filter__reads_derived_values_through_getters() -> None:
    upcoming = {1: "2026-05-20", 2: None}
    matches = compiled([cond(14, "IS NOT NULL")], getters={"next_activity_date": lambda deal: upcoming[deal["id"]]})

    assert [deal_id for deal_id in (1, 2) if matches({"id": deal_id})] == [1]


def test_compile_filter__reads_each_field_once_per_call_not_per_record() -> None:
    looked_up: list[int] = []

    def find_field(field_id: int) -> Any:
        looked_up.append(field_id)
        return DEAL_FIELDS.get(field_id)

    filter_conditions = conditions([cond(5, "=", "open"), cond(13, "=", "this_month")], [cond(8, "=", 106)])
    matches = compile_filter(filter_conditions, object_name="deal", find_field=find_field, today=TODAY)
    hits = [number for number in range(10_000) if matches({"id": number, "status": "open", LEAD_SOURCE: 106,
                                                           CONTRACT_START: "2026-05-02"})]  # fmt: skip

    assert (len(hits), looked_up) == (10_000, [5, 13, 8])


# --- text ------------------------------------------------------------------------------------------------------


NAMES = values("name", "Acme Oy", "acme", "Oy Baltic", None, "", "ACME TOOLS")


def test_text__equals_ignores_case() -> None:
    assert matching(NAMES, cond(1, "=", "ACME")) == [2]


def test_text__not_equal_is_every_other_record_empty_ones_included() -> None:
    assert matching(NAMES, cond(1, "!=", "acme")) == [1, 3, 4, 5, 6]


def test_text__like_prefix_is_starts_with_ignoring_case() -> None:
    assert matching(NAMES, cond(1, "LIKE '$%'", "acme")) == [1, 2, 6]


def test_text__like_infix_is_contains_ignoring_case() -> None:
    assert matching(NAMES, cond(1, "LIKE '%$%'", "OY")) == [1, 3]


def test_text__not_like_prefix_is_does_not_start_with() -> None:
    assert matching(NAMES, cond(1, "NOT LIKE '$%'", "Acme")) == [3, 4, 5]


def test_text__is_null_is_a_missing_or_empty_value() -> None:
    assert matching([*NAMES, {"id": 7}], cond(1, "IS NULL")) == [4, 5, 7]


def test_text__is_not_null_has_a_value() -> None:
    assert matching(NAMES, cond(1, "IS NOT NULL")) == [1, 2, 3, 6]


def test_text__like_treats_percent_and_underscore_literally() -> None:
    assert matching(values("name", "50% off", "500 off", "a_b", "axb"), cond(1, "LIKE '%$%'", "0%"), any_of=[]) == [1]


def test_text__number_value_compares_as_text() -> None:
    assert matching(values("name", "2026 renewal", "renewal"), cond(1, "LIKE '$%'", 2026)) == [1]


def test_address__extra_value_picks_a_component() -> None:
    records = [{"id": 1, "address": "Main St 1, Turku", "address_locality": "Turku"},
               {"id": 2, "address": "Turku Road 2, Espoo", "address_locality": "Espoo"}]  # fmt: skip

    assert matching(records, cond(10, "=", "turku", extra_value="locality")) == [1]
    assert matching(records, cond(10, "LIKE '%$%'", "turku")) == [1, 2]


def test_address__unknown_component_is_400_listing_the_components() -> None:
    message = refusal(cond(10, "=", "Turku", extra_value="planet"))

    assert "planet" in message and "postal_code" in message


# --- numbers and money -----------------------------------------------------------------------------------------------


AMOUNTS = values("value", 0, 9999.5, 10000, 10000.01, 250000, None)


@pytest.mark.parametrize(
    ("operator", "expected"),
    [("=", [3]), ("!=", [1, 2, 4, 5, 6]), ("<", [1, 2]), (">", [4, 5]), ("<=", [1, 2, 3]), (">=", [3, 4, 5]),
     ("IS NULL", [6]), ("IS NOT NULL", [1, 2, 3, 4, 5])],
)  # fmt: skip
def test_money__compares_the_value(operator: str, expected: list[int]) -> None:
    assert matching(AMOUNTS, cond(2, operator, 10000)) == expected


def test_number__value_given_as_digits_is_a_number() -> None:
    assert matching(values("probability", 10, 50, 90), cond(3, ">=", "50")) == [2, 3]


@pytest.mark.parametrize("value", ["lots", True, "", "10k", "nan", "inf"])
def test_number__value_that_is_not_a_number_is_400(value: Any) -> None:
    message = refusal(cond(3, ">", value))

    assert "takes a number" in message and repr(value) in message


# --- dates -------------------------------------------------------------------------------------------------------


def around(start: date, end: date) -> list[dict[str, Any]]:
    """Records 1-4: the day before a period, its first day, its last day, the day after it."""
    days = [start - timedelta(days=1), start, end, end + timedelta(days=1)]
    return values("expected_close_date", *(day.isoformat() for day in days))


@pytest.mark.parametrize(
    ("operator", "expected"),
    [("=", [2, 3]), ("!=", [1, 4]), ("<", [1]), (">", [4]), ("<=", [1, 2, 3]), (">=", [2, 3, 4])],
)
def test_date__relative_period_is_within_before_its_start_or_after_its_end(operator: str, expected: list[int]) -> None:
    records = around(date(2026, 5, 1), date(2026, 5, 31))

    assert matching(records, cond(7, operator, "this_month")) == expected


@pytest.mark.parametrize(
    ("operator", "expected"), [("=", [2]), ("!=", [1, 3]), ("<", [1]), (">", [3]), ("<=", [1, 2]), (">=", [2, 3])]
)
def test_date__fixed_date_compares_the_day(operator: str, expected: list[int]) -> None:
    records = values("expected_close_date", "2026-03-09", "2026-03-10", "2026-03-11")

    assert matching(records, cond(7, operator, "2026-03-10")) == expected


def test_date__datetime_value_is_compared_by_its_date() -> None:
    records = values("close_time", "2026-05-13 23:59:59", "2026-05-14 00:00:00", "2026-05-14 23:59:59", None)

    assert matching(records, cond(6, "=", "today")) == [2, 3]
    assert matching(records, cond(6, "<", "2026-05-14")) == [1]


def test_date__empty_value_is_in_no_period() -> None:
    records = values("expected_close_date", None, "", "2026-05-14")

    assert matching(records, cond(7, "<=", "next_year")) == [3]
    assert matching(records, cond(7, "IS NULL")) == [1, 2]


def test_date__custom_field_takes_a_relative_date() -> None:
    records = values(CONTRACT_START, "2026-02-14", "2026-04-01", "2026-06-30", "2026-07-01")

    assert matching(records, cond(13, "=", "this_quarter")) == [2, 3]
    assert matching(records, cond(13, "=", "3_months_ago")) == [1]


def test_date__weeks_start_on_monday() -> None:
    sunday = date(2026, 5, 17)
    records = values("expected_close_date", "2026-05-10", "2026-05-11", "2026-05-17", "2026-05-18")

    assert matching(records, cond(7, "=", "this_week"), today=sunday) == [2, 3]


def test_date__last_quarter_in_january_is_the_previous_years_fourth() -> None:
    records = around(date(2025, 10, 1), date(2025, 12, 31))

    assert matching(records, cond(7, "=", "last_quarter"), today=date(2026, 1, 20)) == [2, 3]


def test_date__follows_the_today_it_is_given() -> None:
    records = values("expected_close_date", "2026-05-14", "2026-05-15")

    assert matching(records, cond(7, "=", "today"), today=date(2026, 5, 15)) == [2]


@pytest.mark.parametrize("value", ["14.05.2026", "2026-02-30", "someday", 20260514, "this-month"])
def test_date__value_that_is_neither_a_date_nor_a_relative_date_is_400(value: Any) -> None:
    message = refusal(cond(7, "=", value))

    assert "YYYY-MM-DD" in message and repr(value) in message


def test_date__deal_specific_date_compares_with_the_same_deal() -> None:
    records = [
        {"id": 1, "close_time": "2026-04-02 10:00:00", "expected_close_date": "2026-03-31"},
        {"id": 2, "close_time": "2026-03-30 10:00:00", "expected_close_date": "2026-03-31"},
        {"id": 3, "close_time": "2026-04-02 10:00:00", "expected_close_date": None},
    ]

    assert matching(records, cond(6, ">", "deal_expected_close_date")) == [1]
    assert matching(records, cond(6, "<=", "deal_expected_close_date")) == [2]


def test_date__deal_specific_date_on_an_activity_is_400() -> None:
    message = refusal(cond(24, "=", "deal_add_date", object="activity"), object_name="activity")

    assert "deal specific" in message


@pytest.mark.parametrize(
    ("key", "start", "end"),
    [
        ("today", "2026-05-14", "2026-05-14"), ("yesterday", "2026-05-13", "2026-05-13"),
        ("tomorrow", "2026-05-15", "2026-05-15"), ("this_week", "2026-05-11", "2026-05-17"),
        ("last_week", "2026-05-04", "2026-05-10"), ("next_week", "2026-05-18", "2026-05-24"),
        ("this_month", "2026-05-01", "2026-05-31"), ("last_month", "2026-04-01", "2026-04-30"),
        ("next_month", "2026-06-01", "2026-06-30"), ("this_quarter", "2026-04-01", "2026-06-30"),
        ("last_quarter", "2026-01-01", "2026-03-31"), ("next_quarter", "2026-07-01", "2026-09-30"),
        ("this_year", "2026-01-01", "2026-12-31"), ("last_year", "2025-01-01", "2025-12-31"),
        ("next_year", "2027-01-01", "2027-12-31"), ("1_week_ago", "2026-05-07", "2026-05-07"),
        ("2_weeks_ago", "2026-04-30", "2026-04-30"), ("1_month_ago", "2026-04-14", "2026-04-14"),
        ("2_months_ago", "2026-03-14", "2026-03-14"), ("3_months_ago", "2026-02-14", "2026-02-14"),
        ("6_months_ago", "2025-11-14", "2025-11-14"), ("1_year_ago", "2025-05-14", "2025-05-14"),
        ("in_1_week", "2026-05-21", "2026-05-21"), ("in_2_weeks", "2026-05-28", "2026-05-28"),
        ("in_1_month", "2026-06-14", "2026-06-14"), ("in_2_months", "2026-07-14", "2026-07-14"),
        ("in_3_months", "2026-08-14", "2026-08-14"), ("in_6_months", "2026-11-14", "2026-11-14"),
        ("in_1_year", "2027-05-14", "2027-05-14"),
    ],
)  # fmt: skip
def test_date__relative_date_covers_its_days(key: str, start: str, end: str) -> None:
    records = around(date.fromisoformat(start), date.fromisoformat(end))

    assert matching(records, cond(7, "=", key)) == [2, 3]


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [(date(2026, 3, 31), -1, date(2026, 2, 28)), (date(2024, 3, 31), -1, date(2024, 2, 29)),
     (date(2026, 1, 31), 1, date(2026, 2, 28)), (date(2026, 12, 15), 1, date(2027, 1, 15)),
     (date(2026, 1, 15), -13, date(2024, 12, 15))],
)  # fmt: skip
def test_add_months__keeps_the_day_or_takes_the_months_last(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


# --- times ---------------------------------------------------------------------------------------------------------


def test_time__compares_hours_and_minutes() -> None:
    records = values("due_time", "09:30", "10:00", "14:15", None)

    assert matching(records, cond(23, "<", "10:00", object="activity"), object_name="activity") == [1]
    assert matching(records, cond(23, ">=", "10:00", object="activity"), object_name="activity") == [2, 3]


def test_time__value_that_is_not_hh_mm_is_400() -> None:
    assert "HH:MM" in refusal(cond(23, "=", "10am", object="activity"), object_name="activity")


# --- options ---------------------------------------------------------------------------------------------------------


def test_enum__matches_the_option_id() -> None:
    assert matching(values(LEAD_SOURCE, 105, 106, None, "106"), cond(8, "=", 106)) == [2, 4]


def test_enum__option_id_given_as_digits_is_the_option() -> None:
    assert matching(values(LEAD_SOURCE, 105, 106), cond(8, "!=", "106")) == [1]


def test_enum__unknown_option_is_400_listing_the_options() -> None:
    message = refusal(cond(8, "=", 999))

    assert "999" in message and "[105, 106, 107]" in message


def test_enum__option_removed_since_a_stored_filter_was_saved_matches_nothing() -> None:
    assert matching(values(LEAD_SOURCE, 105, 106), cond(8, "=", 999), stored=True) == []


def test_set__matches_when_it_includes_the_option() -> None:
    records = values(INDUSTRIES, "110,112", "111", [112], None, "")

    assert matching(records, cond(9, "=", 112)) == [1, 3]
    assert matching(records, cond(9, "!=", 112)) == [2, 4, 5]
    assert matching(records, cond(9, "IS NULL")) == [4, 5]


def test_set__unknown_option_is_400() -> None:
    assert "option ids" in refusal(cond(9, "=", 113))


@pytest.mark.parametrize("value", [0, 114])
def test_activity_done__not_done_by_0_or_its_option_id(value: int) -> None:
    records = values("done", 0, 1, 0)

    assert matching(records, cond(22, "=", value, object="activity"), object_name="activity") == [1, 3]


@pytest.mark.parametrize("value", [1, 115, "115"])
def test_activity_done__done_by_1_or_its_option_id(value: Any) -> None:
    records = values("done", 0, 1, 0)

    assert matching(records, cond(22, "=", value, object="activity"), object_name="activity") == [2]


def test_activity_done__other_values_are_400() -> None:
    assert "option ids" in refusal(cond(22, "=", 2, object="activity"), object_name="activity")


# --- status and links --------------------------------------------------------------------------------------------


STATUSES = values("status", "open", "won", "lost", "deleted", "open")


@pytest.mark.parametrize("value", ["open", "Open", 101, "101"])
def test_status__matches_the_status_by_name_or_option_id(value: Any) -> None:
    assert matching(STATUSES, cond(5, "=", value)) == [1, 5]


def test_status__not_equal_is_every_other_status() -> None:
    assert matching(STATUSES, cond(5, "!=", 102)) == [1, 3, 4, 5]


def test_status__unknown_status_is_400_naming_the_statuses() -> None:
    message = refusal(cond(5, "=", "pending"))

    assert "'pending'" in message and "open" in message and "101" in message


def test_status__is_null_is_not_an_operator_of_status() -> None:
    assert "IS NULL" in refusal(cond(5, "IS NULL"))


def test_link__compares_the_stored_id() -> None:
    records = values("user_id", 1, 2, 2, None)

    assert matching(records, cond(4, "=", 2)) == [2, 3]
    assert matching(records, cond(4, "!=", "2")) == [1, 4]


def test_link__is_null_has_no_linked_record() -> None:
    assert matching(values("org_id", 3, None, 5), cond(11, "IS NULL")) == [2]


@pytest.mark.parametrize("value", ["Maria", 1.5, True])
def test_link__value_that_is_not_an_id_is_400(value: Any) -> None:
    assert "integer id" in refusal(cond(12, "=", value))


# --- the helpers and the evaluator agree ------------------------------------------------------------------------------


SAMPLE_VALUES = {"varchar": "a", "text": "a", "phone": "+358", "address": "Main St", "int": 1, "double": 1.5,
                 "monetary": 100, "date": "2026-05-14", "daterange": "2026-05-14", "time": "10:00",
                 "timerange": "10:00", "enum": 105, "set": 110, "status": "open", "user": 1, "person": 1, "org": 1,
                 "stage": 1, "visible_to": 3}  # fmt: skip


@cache
def spec_enum(schema: str, prop: str) -> list[Any]:
    schemas = yaml.safe_load(SPEC.read_text(encoding="utf-8"))["components"]["schemas"]
    enum: list[Any] = schemas[schema]["properties"][prop]["enum"]
    return enum


def typed(field_type: str) -> dict[str, Any]:
    return {**field(1, "sample", field_type, (105, 110)),
            "options": [{"id": 105, "label": "Open"}, {"id": 110, "label": "Won"}]}  # fmt: skip


def compile_one(field_type: str, operator: str, value: Any) -> Any:
    sample = typed(field_type)
    return compile_filter(conditions([cond(1, operator, value)]), object_name="deal",
                          find_field={1: sample}.get, today=TODAY)  # fmt: skip


@pytest.mark.parametrize("field_type", sorted(OPERATORS))
def test_helpers__every_listed_operator_is_accepted_and_evaluates(field_type: str) -> None:
    for operator in OPERATORS[field_type]:
        matches = compile_one(field_type, operator, SAMPLE_VALUES[field_type])

        assert matches({"id": 1, "sample": SAMPLE_VALUES[field_type]}) in (True, False)
        assert matches({"id": 2}) in (True, False)


@pytest.mark.parametrize("field_type", sorted(OPERATORS))
def test_helpers__every_operator_not_listed_is_refused(field_type: str) -> None:
    for operator in set(spec_enum("Condition", "operator")) - set(OPERATORS[field_type]):
        with pytest.raises(Invalid, match=re.escape(f"does not take the operator {operator!r}")):
            compile_one(field_type, operator, SAMPLE_VALUES[field_type])


@pytest.mark.parametrize("field_type", ["date", "daterange"])
def test_helpers__every_relative_date_is_accepted_by_every_date_operator(field_type: str) -> None:
    record = {"id": 1, "sample": "2026-05-14 12:00:00", "add_time": "2026-05-01 09:00:00",
              "expected_close_date": "2026-06-01", "close_time": None}  # fmt: skip
    for section in RELATIVE_DATES.values():
        for key in section:
            for operator in OPERATORS[field_type]:
                assert compile_one(field_type, operator, key)(record) in (True, False)


def test_helpers__list_an_operator_table_for_every_field_type_of_the_spec() -> None:
    assert set(spec_enum("Field", "field_type")) <= set(helpers()["operators"])


def test_helpers__operators_are_the_specs_operators() -> None:
    listed = {operator for operators in helpers()["operators"].values() for operator in operators}

    assert listed == set(spec_enum("Condition", "operator"))


def test_helpers__relative_dates_have_the_three_sections_and_the_documented_keys() -> None:
    relative = helpers()["relative_dates"]
    documented = {"today", "yesterday", "tomorrow"} | {
        f"{when}_{period}" for when in ("this", "last", "next") for period in ("week", "month", "quarter", "year")
    }

    assert list(relative) == ["Relative date intervals", "Relative dates", "Deal specific"]
    assert documented <= set(relative["Relative date intervals"])
    assert {"3_months_ago", "in_3_months"} <= set(relative["Relative dates"])


def test_helpers__address_components_are_the_ones_extra_value_takes() -> None:
    assert helpers()["address_field_components"] == ADDRESS_FIELD_COMPONENTS
    for component in ADDRESS_FIELD_COMPONENTS:
        matches = compile_filter(conditions([cond(1, "=", "turku", extra_value=component)]), object_name="deal",
                                 find_field={1: typed("address")}.get, today=TODAY)  # fmt: skip

        assert matches({"id": 1, f"sample_{component}": "Turku"})


def test_helpers__are_a_copy_callers_cannot_change() -> None:
    helpers()["operators"]["varchar"]["~"] = "matches"

    assert "~" not in helpers()["operators"]["varchar"]


# --- the stored fixtures -----------------------------------------------------------------------------------------


@cache
def fixture(name: str) -> Any:
    return yaml.safe_load((FIXTURES / f"{name}.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("stored", fixture("filters"), ids=lambda stored: stored["name"])
def test_fixture_filters__validate_and_evaluate(stored: dict[str, Any]) -> None:
    object_name, records = {"deals": ("deal", "deals"), "activity": ("activity", "activities")}[stored["type"]]
    fields = {record["id"]: record for record in fixture(f"{object_name}_fields")}

    matches = compile_filter(stored["conditions"], object_name=object_name, find_field=fields.get, today=TODAY)

    assert [record for record in fixture(records) if matches(record)]
