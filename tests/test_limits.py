"""Limits at the door: oversized bodies and headers, deep nesting, lone surrogates and huge numbers are refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from mock_server import SPEC_PATH
from mock_server.app import create_app
from mock_server.control.journal import decoded_body
from mock_server.http import limits
from mock_server.settings import Settings
from tests.conftest import Api, assert_error


@pytest.fixture(scope="module")
def small() -> Iterator[TestClient]:
    """An app that takes bodies of at most 1 MB (state imports up to 2 MB)."""
    with create_app(Settings(max_body_mb=1, max_import_mb=2)).test_client() as client:
        yield client


def nested(depth: int) -> bytes:
    return b"[" * (depth - 1) + b"]" * (depth - 1)


def test_a_lone_surrogate_is_a_400_naming_the_field_and_nothing_is_stored(api: Api) -> None:
    before = len(api.data("GET", "/deals", params={"limit": 500}))
    response = api.post("/deals", content=b'{"name": "\\ud800", "person_id": 1}',
                        headers={"content-type": "application/json"})  # fmt: skip
    assert_error(response, 400, "'name'", "surrogate")
    assert len(api.data("GET", "/deals", params={"limit": 500})) == before


def test_a_surrogate_pair_is_text_and_is_kept(api: Api) -> None:
    deal = api.data("POST", "/deals", content=b'{"name": "\\ud83d\\ude00 deal", "person_id": 1}',
                    headers={"content-type": "application/json"})  # fmt: skip
    assert deal["name"] == "\U0001f600 deal"


def test_a_lone_surrogate_in_a_nested_key_is_named(api: Api) -> None:
    body = b'{"name": "x", "person_id": 1, "label": {"\\udfff": 1}}'
    assert_error(api.post("/deals", content=body, headers={"content-type": "application/json"}), 400, "surrogate")


@pytest.mark.parametrize("depth", [limits.MAX_JSON_DEPTH + 1, 500, 1000, 100_000])
def test_a_body_nested_past_the_limit_is_a_400(api: Api, depth: int) -> None:
    body = b'{"name": "x", "person_id": 1, "label": ' + nested(depth) + b"}"
    response = api.post("/deals", content=body, headers={"content-type": "application/json"})
    assert_error(response, 400, f"deeper than {limits.MAX_JSON_DEPTH}")


def test_the_control_plane_refuses_deep_bodies_too(client: TestClient) -> None:
    body = b'{"kind": "status", "status": 500, "path": ' + nested(1000) + b"}"
    response = client.post("/__mock__/faults", content=body, headers={"content-type": "application/json"})
    assert_error(response, 400, "deeper than")


def test_nesting_up_to_the_limit_is_parsed() -> None:
    assert limits.loads(b'{"a": ' + nested(limits.MAX_JSON_DEPTH - 1) + b"}") is not None


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = '"' + "[{" * 100 + '\\"' + '"'
    assert limits.loads(f'{{"name": {text}}}'.encode())["name"].startswith("[{[{")


def test_an_integer_longer_than_a_float_holds_is_a_400(api: Api) -> None:
    body = b'{"name": "x", "person_id": 1, "value": ' + b"9" * 5000 + b"}"
    assert_error(api.post("/deals", content=body, headers={"content-type": "application/json"}), 400, "too large")


def test_the_journal_lists_after_deep_and_surrogate_bodies_were_refused(api: Api) -> None:
    for body in (b'{"name": "\\ud800"}', b'{"a": ' + nested(500) + b"}", b'{"a": ' + nested(5000) + b"}"):
        api.post("/deals", content=body, headers={"content-type": "application/json"})
    response = api.client.get("/__mock__/requests", params={"token": api.token})
    assert response.status_code == 200, response.text
    assert [entry["status"] for entry in response.json()[-3:]] == [400, 400, 400]
    assert api.client.get("/__mock__/requests").status_code == 200


def test_the_journal_keeps_a_body_it_cannot_render_as_text() -> None:
    assert isinstance(decoded_body(b'{"name": "\\ud800"}', "application/json"), str)
    assert isinstance(decoded_body(b"[" * 5000, "application/json"), str)


def test_a_declared_body_over_the_limit_is_a_413_before_it_is_read(small: TestClient) -> None:
    body = b'{"name": "' + b"x" * (1024 * 1024) + b'", "person_id": 1}'
    response = small.post("/v1/deals", content=body, headers={"x-api-token": "big", "content-type": "application/json"})
    assert_error(response, 413, "1 MB")
    assert small.get("/v1/deals", headers={"x-api-token": "big"}, params={"term": "xxx"}).status_code == 200


def test_a_streamed_body_over_the_limit_is_a_413(small: TestClient) -> None:
    chunks = iter([b'{"name": "', *[b"x" * 65536] * 20, b'"}'])
    headers = {"x-api-token": "big", "content-type": "application/json"}
    response = small.post("/v1/deals", content=chunks, headers=headers)
    assert_error(response, 413, "larger than 1 MB")


def test_the_state_import_takes_a_larger_body(small: TestClient) -> None:
    state = small.get("/__mock__/tenants/big/state").json()
    state["company"]["padding"] = "x" * (1024 * 1024 + 10)
    response = small.put("/__mock__/tenants/big/state", json=state)
    # Past the door (1 MB < size < 2 MB): the state's own check refuses the unknown company field, not the size.
    assert response.status_code != 413, response.text
    state["company"]["padding"] = "x" * (2 * 1024 * 1024 + 10)
    assert_error(small.put("/__mock__/tenants/big/state", json=state), 413, "2 MB")


def test_oversized_headers_are_a_431(small: TestClient) -> None:
    response = small.get("/v1/deals", headers={"x-api-token": "big", "x-padding": "y" * (limits.MAX_HEADER_BYTES + 1)})
    assert_error(response, 431, "headers")


def test_a_content_length_that_is_not_a_number_is_refused(small: TestClient) -> None:
    response = small.post("/v1/deals", content=b"{}", headers={"x-api-token": "big", "content-length": "1" * 40})
    assert response.status_code in (400, 413)


@pytest.mark.parametrize("path", ["/v1/deals/" + "9" * 5000, "/__mock__/faults/" + "9" * 5000, "/v1/" + "x" * 3000])
def test_a_path_past_the_limit_is_a_414(client: TestClient, path: str) -> None:
    for method in ("GET", "DELETE"):
        response = client.request(method, path, headers={"x-api-token": "long"})
        assert_error(response, 414, f"longer than {limits.MAX_PATH_CHARS}")


def test_a_query_string_past_the_limit_is_a_414(client: TestClient) -> None:
    query = {"sort": "x" * (limits.MAX_QUERY_BYTES + 1)}
    response = client.get("/v1/deals", params=query, headers={"x-api-token": "q"})
    assert_error(response, 414, "query string")


def test_a_long_id_within_the_path_limit_is_a_404(api: Api) -> None:
    assert_error(api.get("/deals/" + "9" * 1000), 404)


# --- bounded work ----------------------------------------------------------------------------------------------


def query_parameters() -> list[tuple[str, dict[str, Any]]]:
    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    shared = spec["components"]["parameters"]
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                parameter = shared[parameter["$ref"].rsplit("/", 1)[1]] if "$ref" in parameter else parameter
                if parameter["in"] == "query":
                    found.append((f"{method} {path} {parameter['name']}", parameter["schema"]))
    return found


def test_every_list_parameter_has_a_most_items() -> None:
    lists = [(name, schema) for name, schema in query_parameters() if schema.get("type") == "array"]
    assert lists
    assert [name for name, schema in lists if "maxItems" not in schema] == []


@pytest.mark.parametrize("name", ["limit", "amount", "term", "sort"])
def test_every_parameter_that_scales_the_work_has_a_maximum(name: str) -> None:
    schemas = [schema for where, schema in query_parameters() if where.endswith(f" {name}")]
    assert schemas
    assert all("maximum" in schema or "maxLength" in schema for schema in schemas), schemas


def test_a_timeline_of_more_intervals_than_the_maximum_is_a_400_naming_amount(api: Api) -> None:
    query = {"start_date": "2024-01-01", "interval": "day", "field_key": "add_time"}
    assert_error(api.get("/deals/timeline", params={**query, "amount": 100_000_000}), 400, "'amount'")
    assert len(api.data("GET", "/deals/timeline", params={**query, "amount": 500})) == 500


def test_a_bulk_delete_of_more_ids_than_the_maximum_is_a_400_naming_ids(api: Api) -> None:
    ids = ",".join(str(number) for number in range(1, 502))
    assert_error(api.delete("/deals", params={"ids": ids}), 400, "'ids'")


# --- the parser ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [b"1e400", b"NaN", b"-Infinity", b'{"a": 1e999}', b"[1, 2", b'"\\ud800"', b"\xff"])
def test_the_parser_refuses_what_json_or_utf8_cannot_carry(text: bytes) -> None:
    with pytest.raises(ValueError, match="request body"):
        limits.loads(text)


def test_integers_past_64_bits_keep_every_digit() -> None:
    assert limits.loads(b'{"v": 123456789012345678901234567890}') == {"v": 123456789012345678901234567890}


@pytest.mark.parametrize("text", [b"5", b'"x"', b"null", b"[]", b'{"a": [1, {"b": 2.5}]}', b'"\\ud83d\\ude00"'])
def test_the_parser_reads_json_as_the_standard_library_does(text: bytes) -> None:
    import json

    assert limits.loads(text) == json.loads(text)


def test_depth_is_checked_on_the_fast_path_too() -> None:
    wide = b"[" + b",".join([b"[]"] * 100) + b"]"  # many brackets, little depth
    assert len(limits.loads(wide)) == 100
    with pytest.raises(ValueError, match="deeper"):
        limits.loads(b"[" * (limits.MAX_JSON_DEPTH + 1) + b"]" * (limits.MAX_JSON_DEPTH + 1))


# --- amounts that total ----------------------------------------------------------------------------------------


def test_a_deal_value_past_the_bound_is_a_400_naming_value(api: Api) -> None:
    for value in (1e308, -1e16, "1" * 16):
        response = api.post("/deals", json={"name": "Huge", "person_id": 1, "value": value})
        assert_error(response, 400, "'value'")


def test_deals_at_the_largest_value_still_total_and_convert(api: Api) -> None:
    for currency in ("EUR", "EUR", "USD"):
        api.data("POST", "/deals", json={"name": "Max", "person_id": 1, "value": 1e15, "currency": currency})
    api.data("POST", "/deals/1/products", json={"product_id": 1, "item_price": 1e15, "quantity": 10**15,
                                                "duration": 10**15})  # fmt: skip
    for path in ("/deals/summary", "/deals/1", "/deals/1/products", "/deals"):
        assert api.get(path).status_code == 200, path
    query = {"start_date": "2020-01-01", "interval": "quarter", "amount": 40, "field_key": "add_time"}
    assert api.get("/deals/timeline", params=query).status_code == 200


def test_a_state_with_an_amount_or_a_rate_past_its_bound_is_refused(client: TestClient) -> None:
    state = client.get("/__mock__/tenants/bounds/state").json()
    state["records"]["deals"][0]["value"] = 1e308
    assert_error(client.put("/__mock__/tenants/bounds/state", json=state), 400, "value")
    state = client.get("/__mock__/tenants/bounds/state").json()
    code = next(iter(state["company"]["exchange_rates"]["rates"]))
    state["company"]["exchange_rates"]["rates"][code] = 1e-300
    assert_error(client.put("/__mock__/tenants/bounds/state", json=state), 400, "rates")


def test_a_timeline_renders_only_the_deals_inside_its_intervals(client: TestClient, api: Api) -> None:
    account = client.app.state["tenants"].for_token(api.token)
    rendered: list[int] = []
    real_render = account.deals.render

    def counting_render(deal: dict[str, Any]) -> dict[str, Any]:
        rendered.append(deal["id"])
        return dict(real_render(deal))

    account.deals.render = counting_render
    try:
        query = {
            "start_date": "1990-01-01",
            "interval": "day",
            "amount": 1,
            "field_key": "add_time",
            "exclude_deals": 1,
        }
        api.data("GET", "/deals/timeline", params=query, headers={"cache-control": "no-cache"})
    finally:
        del account.deals.render
    assert rendered == []  # no deal was added on that day, so none needed rendering
