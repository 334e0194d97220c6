"""mock_server.http.dispatch: Connexion's request path with its fixed set-up done once per operation."""

from __future__ import annotations

from typing import Any

import pytest
from connexion.decorators import StarletteDecorator
from connexion.decorators.parameter import AsyncParameterDecorator
from connexion.middleware.request_validation import RequestValidationMiddleware
from connexion.middleware.routing import RoutingMiddleware
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.http.dispatch import DirectOperation
from mock_server.settings import Settings
from tests.conftest import Api


def test_each_handler_is_decorated_once_however_often_it_is_called(monkeypatch: pytest.MonkeyPatch) -> None:
    decorated: list[str] = []
    original = StarletteDecorator.decorate

    def counting(self: StarletteDecorator, function: object) -> object:
        decorated.append(getattr(function, "__name__", "?"))
        return original(self, function)

    monkeypatch.setattr(StarletteDecorator, "decorate", counting)
    with create_app(Settings()).test_client() as client:
        api = Api(client, "once")
        values = [api.data("PUT", f"/deals/{deal_id}", json={"value": deal_id})["value"] for deal_id in (1, 2, 3)]
        names = [api.data("GET", f"/deals/{deal_id}")["name"] for deal_id in (1, 2, 3)]
        assert api.data("GET", "/deals", params={"limit": 2})[1]["id"] == 2
        assert api.data("GET", "/deals", params={"limit": 1, "start": 2})[0]["id"] == 3

    assert values == [1, 2, 3] and len(set(names)) == 3  # a kept chain still reads each request's own arguments
    # Reads take no body: their handlers are called straight from validation (DirectOperation), never decorated.
    assert decorated == ["update_deal"]


def test_a_read_reaches_its_handler_directly_with_the_arguments_connexion_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    direct: list[str] = []
    original = DirectOperation.__call__

    async def counting(self: DirectOperation, scope: Any, receive: Any, send: Any) -> None:
        direct.append(self.operation.operation_id)
        await original(self, scope, receive, send)

    monkeypatch.setattr(DirectOperation, "__call__", counting)
    with create_app(Settings()).test_client() as client:
        api = Api(client, "direct")
        found = api.data("GET", "/itemSearch", params={"term": "Oy", "item_types": "deal", "limit": "1"})
        deal = api.data("GET", "/deals/2")

    assert direct == ["searchItem", "getDeal"]
    assert [item["item"]["type"] for item in found["items"]] == ["deal"]  # the query's arguments reached it
    assert deal["id"] == 2  # and the path's


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("/v1/docs/", "swagger"),
        ("/v1/openapi.json", '"openapi"'),
        ("/v1/openapi.yaml", "openapi:"),
        ("/__mock__/openapi.json", '"openapi"'),
    ],
)
def test_documentation_paths_still_reach_the_swagger_ui(client: TestClient, path: str, content: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assert content in response.text.lower()


ODD_PATHS = [
    ("GET", "/v1/deals"), ("GET", "/v1/deals/"), ("GET", "/v1/deals/1"), ("GET", "/v1/deals/1/"),
    ("GET", "/v1/deals/abc"), ("GET", "/v1/deals/search"), ("GET", "/v1/deals/1/activities"),
    ("PATCH", "/v1/deals/1"), ("DELETE", "/v1/deals/1"), ("POST", "/v1/itemSearch"), ("GET", "/v1/itemsearch"),
    ("GET", "/v1"), ("GET", "/v1/"), ("GET", "/v1//deals"), ("GET", "/v1/nothing/here"), ("GET", "/elsewhere"),
    ("GET", "/__mock__/health"), ("GET", "/__mock__/nothing"), ("PUT", "/__mock__/health"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path"), ODD_PATHS)
def test_segment_routing_answers_every_path_as_connexion_routing_does(
    monkeypatch: pytest.MonkeyPatch, method: str, path: str
) -> None:
    def answer() -> tuple[int, str, str | None]:
        with create_app(Settings()).test_client(follow_redirects=False) as client:
            client.post("/__mock__/clock", json={"freeze": "2026-11-25 12:00:00"})  # answers hold the deal's age
            response = client.request(method, path, headers={"x-api-token": "routing"})
            return response.status_code, response.text, response.headers.get("allow")

    grouped = answer()
    monkeypatch.setattr("mock_server.app.SegmentRoutingMiddleware", RoutingMiddleware)
    assert answer() == grouped


def typed(body: bytes, content_type: str = "application/json") -> dict[str, object]:
    return {"content": body, "headers": {"content-type": content_type}}


# Requests whose parameters and bodies take every branch of validation and argument mapping, in an order
# where later ones read what earlier ones wrote.
ODD_REQUESTS: list[tuple[str, str, dict[str, object]]] = [
    ("GET", "/v1/deals", {"params": {"limit": "2", "start": "1", "sort": "value DESC"}}),
    ("GET", "/v1/deals", {"params": {"limit": "abc"}}),
    ("GET", "/v1/deals", {"params": {"limit": "-1"}}),
    ("GET", "/v1/deals", {"params": {"limit": "2", "unknown": "x", "status": "all_not_deleted"}}),
    ("GET", "/v1/deals", {"params": {"status": "nonsense"}}),
    ("GET", "/v1/deals/abc", {}),
    ("GET", "/v1/deals/99999", {}),
    ("GET", "/v1/itemSearch", {"params": {"term": "Oy", "item_types": "deal,person,", "exact_match": "false"}}),
    ("GET", "/v1/itemSearch", {"params": {"term": "Oy", "exact_match": "maybe"}}),
    ("GET", "/v1/itemSearch", {}),
    ("GET", "/v1/activities", {"params": {"limit": "3", "done": "1"}}),
    ("POST", "/v1/deals", {"json": {"name": "Plain", "person_id": 1, "value": 10, "currency": "EUR"}}),
    ("POST", "/v1/deals", typed(b'{"name": "Charset", "org_id": 1}', "application/json; charset=utf-8")),
    ("POST", "/v1/deals", typed(b'{"name": "Latin", "org_id": 1}', "application/json; charset=latin-1")),
    ("POST", "/v1/deals", typed(b"")),
    ("POST", "/v1/deals", typed(b"{not json")),
    ("POST", "/v1/deals", typed(b"[1, 2]")),
    ("POST", "/v1/deals", {"json": {"name": "", "person_id": 1}}),
    ("POST", "/v1/deals", {"json": {"name": "Typed", "person_id": 1, "value": "ten"}}),
    ("POST", "/v1/deals", typed(b"name=Form&person_id=1", "application/x-www-form-urlencoded")),
    ("POST", "/v1/deals", {"files": {"name": ("a.txt", b"Multipart")}}),
    ("POST", "/v1/deals", typed(b"name", "text/plain")),
    ("PUT", "/v1/deals/1", {"json": {"value": 1500, "status": "won"}}),
    ("PUT", "/v1/deals/1", {"json": {"status": "sideways"}}),
    ("PUT", "/v1/deals/1", typed(b"")),
    ("GET", "/v1/deals/1", {}),
    ("DELETE", "/v1/deals", {"params": {"ids": "2,3,"}}),
    ("DELETE", "/v1/deals", {"params": {"ids": "two"}}),
    ("GET", "/v1/deals", {"params": {"limit": "5", "status": "deleted"}}),
    ("POST", "/v1/activities", {"json": {"subject": "Call", "type": "call", "due_date": "2026-02-30"}}),
    ("POST", "/v1/activities", {"json": {"subject": "Call", "type": "call", "due_date": "2026-02-27"}}),
]  # fmt: skip


def test_prepared_validation_and_arguments_answer_as_connexion_does(monkeypatch: pytest.MonkeyPatch) -> None:
    def answers() -> list[tuple[int, str]]:
        found = []
        with create_app(Settings()).test_client() as client:
            client.post("/__mock__/clock", json={"freeze": "2026-11-25 12:00:00"})
            for method, path, options in ODD_REQUESTS:
                headers: dict[str, str] = {"x-api-token": "prepared", **options.get("headers", {})}  # type: ignore[dict-item]
                rest: dict[str, Any] = {key: value for key, value in options.items() if key != "headers"}
                response = client.request(method, path, headers=headers, **rest)
                found.append((response.status_code, response.text))
        return found

    prepared = answers()
    monkeypatch.setattr("mock_server.app.PreparedValidationMiddleware", RequestValidationMiddleware)
    monkeypatch.setattr("mock_server.http.dispatch.PreparedParameterDecorator", AsyncParameterDecorator)
    stock = answers()

    assert prepared == stock
    statuses = {status for status, _ in prepared}
    assert {200, 201, 400, 404, 415} <= statuses  # the battery reaches successes and each kind of refusal
