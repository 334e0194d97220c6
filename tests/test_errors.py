"""Errors: every bad request gets a 4xx in the Fintesk envelope naming what is wrong, never a 500."""

from __future__ import annotations

import pytest

from tests.conftest import Api, assert_error


def test_unknown_route_is_404_in_envelope(api: Api) -> None:
    assert_error(api.get("/no-such-thing"), 404, "/v1/no-such-thing")


def test_wrong_method_is_405_in_envelope(api: Api) -> None:
    body = assert_error(api.request("PATCH", "/deals/1"), 405, "PATCH")
    assert "problem" not in str(body)


def test_non_json_body_is_415(api: Api) -> None:
    response = api.post("/deals", content=b"name=x", headers={"content-type": "text/plain"})
    assert_error(response, 415, "application/json")


@pytest.mark.parametrize(("method", "path"), [("POST", "/deals"), ("PUT", "/deals/1"), ("POST", "/activities")])
def test_json_body_without_a_content_type_is_read_as_json(api: Api, method: str, path: str) -> None:
    # Validation takes such a body as the operation's JSON; the handler once got the raw bytes and failed with a 500.
    body = b'{"name": "Untyped", "subject": "Untyped", "type": "call", "person_id": 1}'
    response = api.request(method, path, content=body)

    assert "content-type" not in response.request.headers
    assert response.status_code in (200, 201), response.text
    assert response.json()["data"]["name" if "deals" in path else "subject"] == "Untyped"


def test_malformed_json_is_400_saying_so(api: Api) -> None:
    response = api.post("/deals", content=b'{"name": ', headers={"content-type": "application/json"})
    assert_error(response, 400, "not valid JSON")


def test_invalid_utf8_body_is_400(api: Api) -> None:
    response = api.post("/deals", content=b'{"name": "\xff\xfe"}', headers={"content-type": "application/json"})
    assert_error(response, 400, "UTF-8")


def test_nan_in_body_is_400(api: Api) -> None:
    response = api.post(
        "/deals", content=b'{"value": NaN, "person_id": 1}', headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "NaN")


def test_huge_number_in_body_is_400(api: Api) -> None:
    response = api.post(
        "/deals", content=b'{"value": 1e999, "person_id": 1}', headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "too large")


def test_wrong_type_in_body_names_the_field(api: Api) -> None:
    assert_error(api.post("/deals", json={"person_id": "seven"}), 400, "person_id", "integer")


def test_wrong_type_in_query_names_the_parameter(api: Api) -> None:
    assert_error(api.get("/deals", params={"start": "first"}), 400, "start", "integer")


def test_enum_violation_names_the_allowed_values(api: Api) -> None:
    assert_error(api.get("/deals", params={"status": "maybe"}), 400, "status", "all_not_deleted")


def test_missing_required_query_parameter_is_named(api: Api) -> None:
    assert_error(api.delete("/deals"), 400, "ids")


def test_huge_path_id_is_404(api: Api) -> None:
    assert_error(api.get("/deals/99999999999999999999999999"), 404)


def test_huge_integer_reference_is_an_unknown_one(api: Api) -> None:
    assert_error(api.post("/deals", json={"person_id": 10**30}), 404, "person_id")


def test_integer_beyond_any_float_is_400(api: Api) -> None:
    body = b'{"person_id": 1, "value": ' + b"9" * 400 + b"}"
    assert_error(api.post("/deals", content=body, headers={"content-type": "application/json"}), 400, "too large")


BAD_BODIES = [
    {},
    {"name": "", "person_id": 1},
    {"name": "x" * 100_000, "person_id": 1},
    {"name": "Ünïcödé – 商談 🚀", "person_id": 1},
    {"name": "x", "person_id": 1, "unknown_field": {"nested": [1, 2]}},
    {"name": "x", "person_id": -1},
    {"name": "x", "org_id": 0},
    {"name": "x", "person_id": 1, "value": "12abc"},
    {"name": "x", "person_id": 1, "value": -1e308},
    {"name": "x", "person_id": 1, "currency": "ZZZ"},
    {"name": "x", "person_id": 1, "stage_id": 2**62},
    {"name": "x", "person_id": 1, "status": "sideways"},
    {"name": None, "person_id": 1},
    {"name": ["x"], "person_id": 1},
    {"name": "x", "person_id": 1, "expected_close_date": "2024-02-30"},
    {"name": "x", "person_id": 1, "add_time": "yesterday"},
    [],
    "just a string",
    12,
    None,
]


@pytest.mark.parametrize("body", BAD_BODIES, ids=range(len(BAD_BODIES)))
def test_odd_deal_bodies_never_get_a_server_error(api: Api, body: object) -> None:
    before = api.data("GET", "/deals", params={"limit": 500})
    response = api.post("/deals", json=body)
    assert response.status_code in (201, 400, 404), response.text
    payload = response.json()
    assert payload["success"] is (response.status_code == 201)
    if response.status_code != 201:
        assert payload["error"]
        assert api.data("GET", "/deals", params={"limit": 500}) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/deals/1"),
        ("PUT", "/activities/1"),
        ("PUT", "/activityTypes/1"),
        ("PUT", "/dealFields/12472"),
        ("PUT", "/filters/1"),
        ("POST", "/activities"),
        ("POST", "/activityTypes"),
        ("POST", "/dealFields"),
        ("POST", "/filters"),
        ("POST", "/deals/2/products"),
    ],
)
@pytest.mark.parametrize("body", [[1, 2], {"name": 5, "conditions": "x", "type": 3}, {"id": "x" * 5000}])
def test_odd_bodies_on_every_write_get_4xx_or_success(api: Api, method: str, path: str, body: object) -> None:
    response = api.request(method, path, json=body)
    assert response.status_code < 500, response.text
    assert response.json()["success"] is (response.status_code < 300)


@pytest.mark.parametrize(
    ("path", "allowed"),
    [("/activities", "DELETE, GET, POST"), ("/deals/1", "DELETE, GET, PUT"), ("/deals/2/products/1", "DELETE, PUT")],
)
def test_wrong_method_lists_every_allowed_method(api: Api, path: str, allowed: str) -> None:
    response = api.request("OPTIONS", path)
    assert_error(response, 405, "OPTIONS")
    assert response.headers["allow"] == allowed


def test_empty_comma_list_items_are_ignored(api: Api) -> None:
    all_activities = api.data("GET", "/deals/2/activities")
    assert api.data("GET", "/deals/2/activities", params={"exclude": ""}) == all_activities
    first = all_activities[0]["id"]
    remaining = api.data("GET", "/deals/2/activities", params={"exclude": f"{first},"})
    assert [activity["id"] for activity in remaining] == [activity["id"] for activity in all_activities[1:]]


def test_missing_person_and_organization_names_both(api: Api) -> None:
    assert_error(api.post("/deals", json={"name": "Orphan"}), 400, "`person_id`", "`org_id`")


def test_enum_field_without_options_names_options(api: Api) -> None:
    assert_error(api.post("/dealFields", json={"name": "Size", "field_type": "enum"}), 400, "options")


def test_empty_date_parameter_is_400(api: Api) -> None:
    assert_error(api.get("/activities", params={"start_date": ""}), 400, "start_date", "date")


def test_impossible_date_in_body_is_400(api: Api) -> None:
    response = api.post("/deals", json={"person_id": 1, "expected_close_date": "2024-02-30"})
    assert_error(response, 400, "expected_close_date")


def test_impossible_datetime_in_body_is_400_and_stores_nothing(api: Api) -> None:
    before = api.data("GET", "/deals", params={"limit": 500})
    response = api.post("/deals", json={"person_id": 1, "status": "won", "won_time": "2024-02-30 10:00:00"})
    assert_error(response, 400, "won_time")
    assert api.data("GET", "/deals", params={"limit": 500}) == before


def test_clearing_a_deal_name_is_400(api: Api) -> None:
    assert_error(api.put("/deals/1", json={"name": ""}), 400, "name")
