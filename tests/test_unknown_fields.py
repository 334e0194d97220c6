"""Body fields an operation does not define are ignored but reported (a warning header, the journal), refused in
strict mode; the contract harness and `fintesk-mock check` can run strict and catch a mock that is not."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from contract_tests.harness import Harness, closed_bodies
from contract_tests.runner import CheckOptions, run_check
from mock_server.app import create_app
from mock_server.settings import Settings
from tests.conftest import assert_error
from tests.planted import serving
from tests.server import running_server

TOKEN = "unknown-fields-token"
HEADERS = {"x-api-token": TOKEN}
WARNING = "x-fintesk-mock-warning"
STRICT = {"x-fintesk-mock-strict": "true"}
WRITES = ["addActivityType", "updateActivityType", "addDeal", "updateDeal", "addActivity", "addDealProduct"]


@pytest.fixture(scope="module")
def mock() -> Iterator[TestClient]:
    with create_app(Settings(tokens=frozenset({TOKEN}))).test_client() as client:
        yield client


def journaled(client: TestClient) -> dict[str, Any]:
    """The journal's entry of the last write."""
    entries = client.get("/__mock__/requests", params={"token": TOKEN}).json()
    return next(entry for entry in reversed(entries) if entry["method"] != "GET")


def test_a_deals_title_is_ignored_with_a_warning_and_journaled(mock: TestClient) -> None:
    answer = mock.post("/v1/deals", json={"name": "Named", "title": "Titled", "person_id": 1}, headers=HEADERS)
    assert answer.status_code == 201
    assert answer.json()["data"]["name"] == "Named" and "title" not in answer.json()["data"]
    assert answer.headers[WARNING] == "body field 'title' is not defined by this operation and was ignored"
    assert journaled(mock)["unknown_fields"] == ["title"]


def test_an_activity_types_order_nr_and_others_are_named(mock: TestClient) -> None:
    body = {"name": "Video call", "icon_key": "camera", "order_nr": 3, "colour": "ff0000"}
    answer = mock.post("/v1/activityTypes", json=body, headers=HEADERS)
    assert answer.status_code == 200, answer.text
    assert answer.headers[WARNING] == (
        "body fields 'order_nr', 'colour' are not defined by this operation and were ignored"
    )
    assert journaled(mock)["unknown_fields"] == ["order_nr", "colour"]


def test_defined_fields_and_the_accounts_custom_fields_bring_no_warning(mock: TestClient) -> None:
    fields = mock.get("/v1/dealFields", headers=HEADERS).json()["data"]
    custom = [field for field in fields if len(field["key"]) == 40]
    monetary = next(field["key"] for field in custom if field["field_type"] == "monetary")
    text = next(field["key"] for field in custom if field["field_type"] == "varchar")
    body = {"name": "Custom", "person_id": 1, monetary: 5, f"{monetary}_currency": "EUR", text: "kept"}
    answer = mock.post("/v1/deals", json=body, headers={**HEADERS, **STRICT})
    assert answer.status_code == 201, answer.text
    assert WARNING not in answer.headers
    assert "unknown_fields" not in journaled(mock)
    # A 40-hex key that is no field of this account is not a custom field of it.
    stranger = "ab" * 20
    answer = mock.post("/v1/deals", json={**body, stranger: 1}, headers=HEADERS)
    assert answer.headers[WARNING] == f"body field '{stranger}' is not defined by this operation and was ignored"


def test_a_field_name_is_shown_escaped_and_cut(mock: TestClient) -> None:
    name = "evil\r\nSet-Cookie: x=1 \u00e9" + "x" * 200
    answer = mock.put("/v1/deals/1", json={"name": "Ok", name: 1}, headers=HEADERS)
    assert answer.status_code == 200
    shown = answer.headers[WARNING]
    assert "\\r\\nSet-Cookie: x=1 \\u00e9" in shown and len(shown) < 200 and "..." in shown


def test_the_strict_header_refuses_the_field_and_changes_nothing(mock: TestClient) -> None:
    before = mock.get("/v1/deals/1", headers=HEADERS).json()["data"]["name"]
    answer = mock.put("/v1/deals/1", json={"name": "Changed", "title": "T"}, headers={**HEADERS, **STRICT})
    assert_error(answer, 400, "body field 'title'", "not defined by this operation", "strict mode")
    assert mock.get("/v1/deals/1", headers=HEADERS).json()["data"]["name"] == before
    assert journaled(mock)["unknown_fields"] == ["title"]


def test_serve_strict_and_its_variable_refuse_undefined_fields() -> None:
    body = {"name": "Video call", "icon_key": "camera", "order_nr": 3}
    for arguments, env in (("--strict",), {}), ((), {"FINTESK_MOCK_STRICT": "1"}):
        with running_server(*arguments, env={**os.environ, **env}) as base_url:
            answer = httpx.post(f"{base_url}/v1/activityTypes", json=body, headers=HEADERS, timeout=30)
            assert_error(answer, 400, "body field 'order_nr'")
            del body["order_nr"]
            assert httpx.post(f"{base_url}/v1/activityTypes", json=body, headers=HEADERS, timeout=30).is_success
            body["order_nr"] = 3


def test_closed_bodies_close_every_request_body_that_names_its_fields() -> None:
    raw = {"paths": {"/x": {"post": {"requestBody": {"content": {"application/json": {"schema": {
        "$ref": "#/components/schemas/In"}}}}}}},
        "components": {"schemas": {"In": {"type": "object", "properties": {"a": {}}, "additionalProperties": True,
                                          "patternProperties": {"^[0-9a-f]{40}$": {}}}}}}  # fmt: skip
    closed = closed_bodies(raw)
    assert closed["components"]["schemas"]["In"] == {"type": "object", "properties": {"a": {}},
                                                     "additionalProperties": False}  # fmt: skip
    assert raw["components"]["schemas"]["In"]["additionalProperties"] is True  # the given spec is left alone


class IgnoresStrict:
    """A planted bug: a mock that never hears the ask for strict mode."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "headers": [(n, v) for n, v in scope["headers"] if n != b"x-fintesk-mock-strict"]}
        await self.app(scope, receive, send)


def mock_app() -> Any:
    return create_app(Settings(tokens=frozenset({TOKEN})))


def test_a_strict_harness_run_passes_the_mock_and_catches_one_that_ignores_strict() -> None:
    clean = Harness(mock_app(), TOKEN, strict=True).run(WRITES, max_examples=8)
    assert sum(clean.requests.values()) >= 40
    assert clean.findings == []
    planted = Harness(IgnoresStrict(mock_app()), TOKEN, strict=True).run(WRITES, max_examples=8)
    assert planted.failed_checks == {"fintesk_strict_refuses_undefined_fields"}


def test_check_strict_passes_the_mock_and_fails_one_that_ignores_strict() -> None:
    options = CheckOptions(include_operation=("addActivityType",), max_examples=5, seed=1,
                           phases="examples,coverage,fuzzing", strict=True)  # fmt: skip
    for app, expected in ((mock_app(), 0), (IgnoresStrict(mock_app()), 1)):
        output = io.StringIO()
        with serving(app) as base_url:
            code = run_check(base_url, TOKEN, options, output=output)
        assert code == expected, output.getvalue()[-3000:]
    assert "fintesk_strict_refuses_undefined_fields" in output.getvalue()
