"""API tests of activity types: order, key_string derivation, validation and (bulk) delete."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Api, assert_error

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "default"


@cache
def fixture_types() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = yaml.safe_load((FIXTURES / "activity_types.yaml").read_text(encoding="utf-8"))
    return records


def type_named(key: str) -> dict[str, Any]:
    return next(record for record in fixture_types() if record["key_string"] == key)


def listed_ids(api: Api) -> list[int]:
    return [record["id"] for record in api.data("GET", "/activityTypes")]


def test_get_activity_types__lists_every_type_by_order_nbr(api: Api) -> None:
    expected = [record["id"] for record in sorted(fixture_types(), key=lambda r: (r["order_nbr"], r["id"]))]

    assert listed_ids(api) == expected


def test_get_activity_types__a_new_order_nbr_moves_the_type(api: Api) -> None:
    call = type_named("call")
    last = max(record["order_nbr"] for record in fixture_types())

    api.data("PUT", f"/activityTypes/{call['id']}", json={"order_nbr": last + 1})

    assert listed_ids(api)[-1] == call["id"]


@pytest.mark.parametrize(
    ("name", "key"),
    [("Site visit", "site_visit"), ("Follow-Up  Call!", "follow_up_call"), ("Demo", "demo")],
)
def test_add_activity_type__derives_key_string_from_the_name(api: Api, name: str, key: str) -> None:
    assert api.data("POST", "/activityTypes", json={"name": name, "icon_key": "car"})["key_string"] == key


def test_add_activity_type__composed_and_decomposed_names_share_a_key_and_the_suffix_rule(api: Api) -> None:
    composed, decomposed = "Vid\u00e9o", "Vide\u0301o"
    first = api.data("POST", "/activityTypes", json={"name": composed, "icon_key": "car"})
    second = api.data("POST", "/activityTypes", json={"name": decomposed, "icon_key": "car"})
    assert second["key_string"] == first["key_string"] + "_2"


def test_add_activity_type__taken_key_gets_a_numeric_suffix(api: Api) -> None:
    taken = type_named("video_call")

    record = api.data("POST", "/activityTypes", json={"name": taken["name"], "icon_key": "camera"})

    assert record["key_string"] == "video_call_2"


def test_add_activity_type__each_clash_gets_the_next_suffix(api: Api) -> None:
    api.data("POST", "/activityTypes", json={"name": "Video call", "icon_key": "camera"})

    record = api.data("POST", "/activityTypes", json={"name": "Video Call", "icon_key": "camera"})

    assert record["key_string"] == "video_call_3"


def test_add_activity_type__key_of_a_deleted_type_stays_taken(api: Api) -> None:
    api.data("DELETE", f"/activityTypes/{type_named('lunch')['id']}")

    record = api.data("POST", "/activityTypes", json={"name": "Lunch", "icon_key": "lunch"})

    assert record["key_string"] == "lunch_2"


def test_add_activity_type__is_custom_active_and_last(api: Api) -> None:
    response = api.post("/activityTypes", json={"name": "Site visit", "icon_key": "car", "color": "FFAA00"})

    assert response.status_code == 200, response.text
    record = response.json()["data"]
    assert record["is_custom_flag"] is True
    assert record["active_flag"] is True
    assert (record["name"], record["icon_key"], record["color"]) == ("Site visit", "car", "FFAA00")
    assert record["order_nbr"] == max(r["order_nbr"] for r in fixture_types()) + 1
    assert listed_ids(api)[-1] == record["id"]


def test_add_activity_type__icon_key_outside_the_enum_is_400(api: Api) -> None:
    response = api.post("/activityTypes", json={"name": "Site visit", "icon_key": "unicorn"})

    assert_error(response, 400, "icon_key")


def test_add_activity_type__color_not_six_hex_digits_is_400(api: Api) -> None:
    response = api.post("/activityTypes", json={"name": "Site visit", "icon_key": "car", "color": "orange"})

    assert_error(response, 400, "color")


def test_add_activity_type__without_name_is_400(api: Api) -> None:
    assert_error(api.post("/activityTypes", json={"icon_key": "car"}), 400, "name")


def test_add_activity_type__new_key_can_type_an_activity(api: Api) -> None:
    record = api.data("POST", "/activityTypes", json={"name": "Site visit", "icon_key": "car"})

    activity = api.data("POST", "/activities", json={"type": record["key_string"]})

    assert (activity["type"], activity["subject"]) == ("site_visit", "Site visit")


def test_update_activity_type__rename_keeps_key_string(api: Api) -> None:
    call = type_named("call")

    record = api.data("PUT", f"/activityTypes/{call['id']}", json={"name": "Phone call", "icon_key": "smartphone"})

    assert (record["name"], record["icon_key"], record["key_string"]) == ("Phone call", "smartphone", "call")


def test_update_activity_type__unknown_id_is_404(api: Api) -> None:
    assert_error(api.put("/activityTypes/9999", json={"name": "Nothing"}), 404, "9999")


def test_delete_activity_type__answers_the_type_inactive(api: Api) -> None:
    lunch = type_named("lunch")

    record = api.data("DELETE", f"/activityTypes/{lunch['id']}")

    assert (record["id"], record["key_string"], record["active_flag"]) == (lunch["id"], "lunch", False)


def test_delete_activity_type__type_leaves_the_list(api: Api) -> None:
    lunch = type_named("lunch")

    api.data("DELETE", f"/activityTypes/{lunch['id']}")

    assert listed_ids(api) == [
        record["id"] for record in sorted(fixture_types(), key=lambda r: (r["order_nbr"], r["id"])) if record != lunch
    ]


def test_delete_activity_type__twice_is_404(api: Api) -> None:
    lunch = type_named("lunch")
    api.data("DELETE", f"/activityTypes/{lunch['id']}")

    assert_error(api.delete(f"/activityTypes/{lunch['id']}"), 404, str(lunch["id"]))


def test_delete_activity_type__deleted_type_cannot_type_a_new_activity(api: Api) -> None:
    api.data("DELETE", f"/activityTypes/{type_named('lunch')['id']}")

    assert_error(api.post("/activities", json={"type": "lunch"}), 404, "type", "lunch")


def test_delete_activity_types__answers_the_ids_and_both_leave_the_list(api: Api) -> None:
    lunch, deadline = type_named("lunch"), type_named("deadline")

    deleted = api.data("DELETE", f"/activityTypes?ids={lunch['id']},{deadline['id']}")

    assert deleted == {"id": [lunch["id"], deadline["id"]]}
    assert set(listed_ids(api)) == {record["id"] for record in fixture_types()} - {lunch["id"], deadline["id"]}


def test_delete_activity_types__one_unknown_id_is_404_and_deletes_nothing(api: Api) -> None:
    lunch = type_named("lunch")

    assert_error(api.delete(f"/activityTypes?ids={lunch['id']},9999"), 404, "9999")
    assert set(listed_ids(api)) == {record["id"] for record in fixture_types()}
