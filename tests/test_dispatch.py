"""mock_server.dispatch: Connexion's request path with its fixed set-up done once per operation."""

from __future__ import annotations

import pytest
from connexion.decorators import StarletteDecorator
from connexion.middleware.routing import RoutingMiddleware
from starlette.testclient import TestClient

from mock_server.app import create_app
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
        names = [api.data("GET", f"/deals/{deal_id}")["name"] for deal_id in (1, 2, 3)]
        assert api.data("GET", "/deals", params={"limit": 2})[1]["id"] == 2
        assert api.data("GET", "/deals", params={"limit": 1, "start": 2})[0]["id"] == 3

    assert len(set(names)) == 3  # a kept chain still reads each request's own parameters
    assert sorted(decorated) == ["get_deal", "get_deals"]


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
