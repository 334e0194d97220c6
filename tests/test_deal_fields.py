"""API tests of deal fields: order and pagination, custom field keys and option ids, delete, values on deals."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import Api, assert_error
from tests.fixture_data import fixture

HEX_KEY = re.compile(r"^[0-9a-f]{40}$")


def fixture_fields() -> list[dict[str, Any]]:
    return sorted(fixture("deal_fields"), key=lambda field: (field["order_nbr"], field["id"]))


def fixture_option_ids() -> set[int]:
    return {
        option["id"]
        for field in [*fixture("deal_fields"), *fixture("activity_fields")]
        for option in field["options"] or []
    }


def custom_field(field_type: str) -> dict[str, Any]:
    return next(
        field for field in fixture_fields() if HEX_KEY.match(field["key"]) and field["field_type"] == field_type
    )


def add_enum(api: Api, *labels: str) -> dict[str, Any]:
    body = {"name": "Region", "field_type": "enum", "options": [{"label": label} for label in labels]}
    field: dict[str, Any] = api.data("POST", "/dealFields", json=body)
    return field


def all_deals(api: Api) -> list[dict[str, Any]]:
    deals: list[dict[str, Any]] = api.data("GET", "/deals?limit=500")
    return deals


# --- getDealFields ------------------------------------------------------------------------------------------------


def test_get_deal_fields__lists_fields_by_order_nbr(api: Api) -> None:
    fields = api.data("GET", "/dealFields?limit=500")

    assert [field["id"] for field in fields] == [field["id"] for field in fixture_fields()]


def test_get_deal_fields__first_page_points_to_the_next(api: Api) -> None:
    body = api.get("/dealFields?limit=10").json()

    assert [field["id"] for field in body["data"]] == [field["id"] for field in fixture_fields()[:10]]
    assert body["additional_data"]["pagination"] == {
        "start": 0,
        "limit": 10,
        "more_items_in_collection": True,
        "next_start": 10,
    }


def test_get_deal_fields__last_page_says_no_more(api: Api) -> None:
    total = len(fixture_fields())

    body = api.get(f"/dealFields?start={total - 3}&limit=10").json()

    assert [field["id"] for field in body["data"]] == [field["id"] for field in fixture_fields()[-3:]]
    assert body["additional_data"]["pagination"] == {"start": total - 3, "limit": 10, "more_items_in_collection": False}


def test_get_deal_field__unknown_id_is_404(api: Api) -> None:
    assert_error(api.get("/dealFields/9999"), 404, "9999")


# --- addDealField -------------------------------------------------------------------------------------------------


def test_add_deal_field__varchar_gets_a_hex_key_and_the_next_order_nbr(api: Api) -> None:
    field = api.data("POST", "/dealFields", json={"name": "Tender number", "field_type": "varchar"})

    assert HEX_KEY.match(field["key"]), field["key"]
    assert field["order_nbr"] == max(f["order_nbr"] for f in fixture_fields()) + 1
    assert (field["name"], field["field_type"], field["options"]) == ("Tender number", "varchar", None)


def test_add_deal_field__keys_differ_from_every_existing_key(api: Api) -> None:
    first = api.data("POST", "/dealFields", json={"name": "One", "field_type": "varchar"})
    second = api.data("POST", "/dealFields", json={"name": "Two", "field_type": "varchar"})

    existing = {field["key"] for field in fixture_fields()}
    assert first["key"] != second["key"]
    assert not {first["key"], second["key"]} & existing


def test_add_deal_field__is_readable_and_listed_last(api: Api) -> None:
    field = api.data("POST", "/dealFields", json={"name": "Tender number", "field_type": "varchar"})

    assert api.data("GET", f"/dealFields/{field['id']}")["key"] == field["key"]
    assert api.data("GET", "/dealFields?limit=500")[-1]["id"] == field["id"]


@pytest.mark.parametrize("field_type", ["enum", "set"])
def test_add_deal_field__options_type_without_options_is_400(api: Api, field_type: str) -> None:
    response = api.post("/dealFields", json={"name": "Region", "field_type": field_type})

    assert_error(response, 400)


def test_add_deal_field__enum_options_get_new_unique_ids(api: Api) -> None:
    field = add_enum(api, "North", "South", "East")

    ids = [option["id"] for option in field["options"]]
    assert [option["label"] for option in field["options"]] == ["North", "South", "East"]
    assert len(set(ids)) == 3
    assert all(isinstance(option_id, int) for option_id in ids)
    assert not set(ids) & fixture_option_ids()


def test_add_deal_field__option_ids_are_unique_across_fields(api: Api) -> None:
    first = add_enum(api, "North", "South")
    second = add_enum(api, "North", "South")

    assert not {option["id"] for option in first["options"]} & {option["id"] for option in second["options"]}


def test_add_deal_field__monetary_has_a_currency_subfield(api: Api) -> None:
    field = api.data("POST", "/dealFields", json={"name": "Budget", "field_type": "monetary"})

    assert [subfield["key"] for subfield in field["subfields"]] == [field["key"] + "_currency"]


# --- updateDealField ----------------------------------------------------------------------------------------------


def test_update_deal_field__renames(api: Api) -> None:
    field = api.data("POST", "/dealFields", json={"name": "Tender number", "field_type": "varchar"})

    updated = api.data("PUT", f"/dealFields/{field['id']}", json={"name": "Tender no."})

    assert (updated["name"], updated["key"]) == ("Tender no.", field["key"])
    assert api.data("GET", f"/dealFields/{field['id']}")["name"] == "Tender no."


def test_update_deal_field__options_keep_ids_by_id_and_by_label_and_new_labels_get_new_ids(api: Api) -> None:
    field = add_enum(api, "North", "South", "East")
    north, south, east = field["options"]
    options = [{"id": north["id"], "label": "Northern"}, {"label": "South"}, {"label": "West"}]

    updated = api.data("PUT", f"/dealFields/{field['id']}", json={"name": "Region", "options": options})

    northern, kept_south, west = updated["options"]
    assert northern == {"id": north["id"], "label": "Northern"}
    assert kept_south == south
    assert west["label"] == "West"
    assert west["id"] not in {north["id"], south["id"], east["id"]} | fixture_option_ids()


def test_update_deal_field__options_left_out_are_removed(api: Api) -> None:
    field = add_enum(api, "North", "South")
    north = field["options"][0]

    updated = api.data("PUT", f"/dealFields/{field['id']}", json={"name": "Region", "options": [north]})

    assert updated["options"] == [north]


def test_update_deal_field__renamed_option_and_new_option_with_its_old_label_get_distinct_ids(api: Api) -> None:
    field = add_enum(api, "North", "South")
    north = field["options"][0]
    options = [{"label": "North"}, {"id": north["id"], "label": "Northern"}]

    updated = api.data("PUT", f"/dealFields/{field['id']}", json={"name": "Region", "options": options})

    new_north, northern = updated["options"]
    assert northern == {"id": north["id"], "label": "Northern"}
    assert new_north["label"] == "North"
    assert new_north["id"] != north["id"]


def test_update_deal_field__the_same_label_twice_gets_two_ids(api: Api) -> None:
    field = add_enum(api, "North")

    updated = api.data(
        "PUT",
        f"/dealFields/{field['id']}",
        json={"name": "Region", "options": [{"label": "North"}, {"label": "North"}]},
    )

    ids = [option["id"] for option in updated["options"]]
    assert ids[0] == field["options"][0]["id"]
    assert len(set(ids)) == 2


def test_update_deal_field__unknown_id_is_404(api: Api) -> None:
    assert_error(api.put("/dealFields/9999", json={"name": "Nothing"}), 404, "9999")


# --- deleteDealField ----------------------------------------------------------------------------------------------


def test_delete_deal_field__custom_field_reads_404(api: Api) -> None:
    field = custom_field("varchar")

    assert api.data("DELETE", f"/dealFields/{field['id']}") == {"id": field["id"]}
    assert_error(api.get(f"/dealFields/{field['id']}"), 404, str(field["id"]))


def test_delete_deal_field__custom_field_leaves_the_list(api: Api) -> None:
    field = custom_field("varchar")

    api.data("DELETE", f"/dealFields/{field['id']}")

    listed = [f["id"] for f in api.data("GET", "/dealFields?limit=500")]
    assert listed == [f["id"] for f in fixture_fields() if f["id"] != field["id"]]


def test_delete_deal_field__key_is_gone_from_every_deal(api: Api) -> None:
    field = custom_field("varchar")
    assert any(field["key"] in deal for deal in fixture("deals"))  # the fixtures give the field values

    api.data("DELETE", f"/dealFields/{field['id']}")

    assert not [deal["id"] for deal in all_deals(api) if field["key"] in deal]


def test_delete_deal_field__companion_key_goes_too(api: Api) -> None:
    field = custom_field("daterange")
    until = field["key"] + "_until"
    assert any(until in deal for deal in fixture("deals"))

    api.data("DELETE", f"/dealFields/{field['id']}")

    assert not [deal["id"] for deal in all_deals(api) if field["key"] in deal or until in deal]


def test_delete_deal_field__built_in_field_is_400(api: Api) -> None:
    built_in = next(field for field in fixture_fields() if field["key"] == "name")

    assert_error(api.delete(f"/dealFields/{built_in['id']}"), 400, "built-in", str(built_in["id"]))
    assert api.data("GET", f"/dealFields/{built_in['id']}")["key"] == "name"


def test_delete_deal_field__unknown_id_is_404(api: Api) -> None:
    assert_error(api.delete("/dealFields/9999"), 404, "9999")


# --- custom values on deals ---------------------------------------------------------------------------------------


def test_deal__accepts_and_returns_a_value_for_a_new_custom_field(api: Api) -> None:
    field = api.data("POST", "/dealFields", json={"name": "Tender number", "field_type": "varchar"})
    deal_id = next(deal["id"] for deal in fixture("deals") if deal["active_flag"])

    updated = api.data("PUT", f"/deals/{deal_id}", json={field["key"]: "T-2027-001"})

    assert updated[field["key"]] == "T-2027-001"
    assert api.data("GET", f"/deals/{deal_id}")[field["key"]] == "T-2027-001"


def test_deal__accepts_an_option_id_of_a_new_enum_field(api: Api) -> None:
    field = add_enum(api, "North", "South")
    south = field["options"][1]["id"]
    deal_id = next(deal["id"] for deal in fixture("deals") if deal["active_flag"])

    assert api.data("PUT", f"/deals/{deal_id}", json={field["key"]: south})[field["key"]] == south


def test_deal__unknown_option_id_for_an_enum_field_is_400(api: Api) -> None:
    field = add_enum(api, "North", "South")
    unknown = max(option["id"] for option in field["options"]) + 100
    deal_id = next(deal["id"] for deal in fixture("deals") if deal["active_flag"])

    assert_error(api.put(f"/deals/{deal_id}", json={field["key"]: unknown}), 400, field["key"], str(unknown))


def test_deal__number_for_a_varchar_field_is_400(api: Api) -> None:
    field = api.data("POST", "/dealFields", json={"name": "Tender number", "field_type": "varchar"})
    deal_id = next(deal["id"] for deal in fixture("deals") if deal["active_flag"])

    assert_error(api.put(f"/deals/{deal_id}", json={field["key"]: 42}), 400, field["key"])
