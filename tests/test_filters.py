"""API tests of saved filters: list, type, add, read, update and the checks on their conditions."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, assert_error
from tests.fixture_data import RESOURCE_MISSING, fixture


def deal_field_id(key: str) -> str:
    return str(next(field["id"] for field in fixture("deal_fields") if field["key"] == key))


def condition(field_key: str = "name", operator: str = "=", value: Any = "Acme") -> dict[str, Any]:
    return {"object": "deal", "field_id": deal_field_id(field_key), "operator": operator, "value": value,
            "extra_value": None}  # fmt: skip


def conditions(all_of: list[dict[str, Any]], any_of: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"glue": "and", "conditions": [{"glue": "and", "conditions": all_of},
                                          {"glue": "or", "conditions": any_of or []}]}  # fmt: skip


def add_filter(api: Api, name: str = "Acme deals", **overrides: Any) -> dict[str, Any]:
    body = {"name": name, "type": "deals", "conditions": conditions([condition()]), **overrides}
    record: dict[str, Any] = api.data("POST", "/filters", json=body)
    return record


def test_get_filters__lists_every_filter_without_conditions(api: Api) -> None:
    filters = api.data("GET", "/filters")

    assert [(record["id"], record["name"], record["type"]) for record in filters] == [
        (record["id"], record["name"], record["type"]) for record in fixture("filters")
    ]
    assert not [record for record in filters if "conditions" in record]


@pytest.mark.parametrize("filter_type", ["deals", "activity", "products"])
def test_get_filters__type_lists_only_filters_of_that_type(api: Api, filter_type: str) -> None:
    expected = [record["id"] for record in fixture("filters") if record["type"] == filter_type]

    assert [record["id"] for record in api.data("GET", f"/filters?type={filter_type}")] == expected


def test_get_filters__unknown_type_is_400(api: Api) -> None:
    assert_error(api.get("/filters?type=unicorns"), 400, "type")


def test_add_filter__answers_the_filter_with_its_conditions(api: Api) -> None:
    body_conditions = conditions([condition()], [condition("value", ">", 1000)])

    record = api.data("POST", "/filters", json={"name": "Acme deals", "type": "deals", "conditions": body_conditions})

    assert (record["name"], record["type"], record["conditions"]) == ("Acme deals", "deals", body_conditions)
    assert record["id"] > max(record["id"] for record in fixture("filters"))
    assert record["active_flag"] is True


def test_add_filter__belongs_to_the_token_user(api: Api) -> None:
    assert add_filter(api)["user_id"] == fixture("company")["api_user_id"]


def test_add_filter__is_listed(api: Api) -> None:
    record = add_filter(api)

    listed = api.data("GET", "/filters?type=deals")

    assert listed[-1]["id"] == record["id"]
    assert listed[-1]["name"] == "Acme deals"


def test_add_filter__accepts_activity_field_conditions(api: Api) -> None:
    field_id = str(next(field["id"] for field in fixture("activity_fields") if field["key"] == "type"))
    activity_condition = {"object": "activity", "field_id": field_id, "operator": "=", "value": "call"}

    record = add_filter(api, type="activity", conditions=conditions([activity_condition]))

    assert record["conditions"]["conditions"][0]["conditions"] == [activity_condition]


def test_add_filter__unknown_field_id_is_404(api: Api) -> None:
    unknown = {**condition(), "field_id": "99999"}

    response = api.post("/filters", json={"name": "X", "type": "deals", "conditions": conditions([unknown])})

    assert_error(response, 404, RESOURCE_MISSING, "field_id", "99999")


def test_add_filter__activity_field_id_on_a_deal_condition_is_404(api: Api) -> None:
    activity_field_id = str(fixture("activity_fields")[0]["id"])
    mismatched = {**condition(), "field_id": activity_field_id}

    response = api.post("/filters", json={"name": "X", "type": "deals", "conditions": conditions([mismatched])})

    assert_error(response, 404, "field_id", activity_field_id)


def test_add_filter__more_than_16_conditions_over_both_groups_is_400(api: Api) -> None:
    body_conditions = conditions([condition()] * 9, [condition()] * 8)

    response = api.post("/filters", json={"name": "X", "type": "deals", "conditions": body_conditions})

    assert_error(response, 400, "16", "17")


def test_add_filter__16_conditions_over_both_groups_are_accepted(api: Api) -> None:
    record = add_filter(api, conditions=conditions([condition()] * 8, [condition()] * 8))

    assert sum(len(group["conditions"]) for group in record["conditions"]["conditions"]) == 16


def test_add_filter__invalid_operator_is_400(api: Api) -> None:
    body_conditions = conditions([condition(operator="~=")])

    response = api.post("/filters", json={"name": "X", "type": "deals", "conditions": body_conditions})

    assert_error(response, 400, "operator")


def test_add_filter__rejected_filter_is_not_stored(api: Api) -> None:
    api.post(
        "/filters", json={"name": "X", "type": "deals", "conditions": conditions([condition()] * 9, [condition()] * 8)}
    )

    assert [record["id"] for record in api.data("GET", "/filters")] == [record["id"] for record in fixture("filters")]


def test_get_filter__answers_the_stored_conditions(api: Api) -> None:
    stored = fixture("filters")[0]

    record = api.data("GET", f"/filters/{stored['id']}")

    assert (record["name"], record["user_id"], record["conditions"]) == (
        stored["name"],
        stored["user_id"],
        stored["conditions"],
    )


def test_get_filter__unknown_id_is_404(api: Api) -> None:
    assert_error(api.get("/filters/9999"), 404, "9999")


def test_update_filter__replaces_conditions_and_name(api: Api) -> None:
    stored = fixture("filters")[0]
    new_conditions = conditions([condition("value", ">=", 5000)])

    api.data("PUT", f"/filters/{stored['id']}", json={"name": "Bigger deals", "conditions": new_conditions})

    record = api.data("GET", f"/filters/{stored['id']}")
    assert (record["name"], record["conditions"]) == ("Bigger deals", new_conditions)


def test_update_filter__without_name_keeps_the_name(api: Api) -> None:
    stored = fixture("filters")[0]
    new_conditions = conditions([condition("value", ">=", 5000)])

    record = api.data("PUT", f"/filters/{stored['id']}", json={"conditions": new_conditions})

    assert (record["name"], record["conditions"]) == (stored["name"], new_conditions)


def test_update_filter__unknown_field_id_is_404_and_changes_nothing(api: Api) -> None:
    stored = fixture("filters")[0]
    unknown = {**condition(), "field_id": "99999"}

    response = api.put(f"/filters/{stored['id']}", json={"name": "Broken", "conditions": conditions([unknown])})

    assert_error(response, 404, RESOURCE_MISSING, "field_id", "99999")
    record = api.data("GET", f"/filters/{stored['id']}")
    assert (record["name"], record["conditions"]) == (stored["name"], stored["conditions"])


def test_update_filter__unknown_id_is_404(api: Api) -> None:
    assert_error(api.put("/filters/9999", json={"conditions": conditions([condition()])}), 404, "9999")
