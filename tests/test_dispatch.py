"""mock_server.dispatch: Connexion's request path with its fixed set-up done once per operation."""

from __future__ import annotations

import pytest
from connexion.decorators import StarletteDecorator
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
