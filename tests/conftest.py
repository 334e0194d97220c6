"""Shared fixtures: one in-process app with response validation on, and a fresh tenant per test."""

from __future__ import annotations

import gc
import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.settings import Settings

_tokens = itertools.count(1)


class Api:
    """An HTTP client bound to one tenant's token, with paths relative to /v1."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.token = token

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"x-api-token": self.token, **kwargs.pop("headers", {})}
        return self.client.request(method, "/v1" + path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def data(self, method: str, path: str, **kwargs: Any) -> Any:
        """The `data` of a call that must succeed."""
        response = self.request(method, path, **kwargs)
        assert response.status_code in (200, 201), response.text
        assert response.json()["success"] is True
        return response.json()["data"]


@pytest.fixture(scope="session")
def client() -> Iterator[TestClient]:
    app = create_app(Settings(validate_responses=True))
    with app.test_client() as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient) -> Api:
    """A fresh tenant: a token no other test uses, so its account starts as the fixtures."""
    return Api(client, f"test-token-{next(_tokens)}")


def assert_error(response: httpx.Response, status: int, *fragments: str) -> dict[str, Any]:
    """The response is a Fintesk error envelope with this status and a message naming each fragment."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False
    assert body["data"] is None and body["additional_data"] is None
    for fragment in fragments:
        assert fragment in body["error"], body["error"]
    return body


@pytest.fixture
def mock() -> Iterator[TestClient]:
    """A private app per test: control-plane changes (clock, faults, limits) must not leak into other tests."""
    with create_app(Settings(validate_responses=True)).test_client() as test_client:
        yield test_client


def admin(client: TestClient, method: str, path: str, **kwargs: Any) -> Any:
    """The answer of a control-plane call that must succeed."""
    response = client.request(method, "/__mock__" + path, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def started_as_serve_starts() -> Iterator[None]:
    """For code that starts an app as `serve` does (the heap frozen after start-up): undone after."""
    try:
        yield
    finally:
        gc.unfreeze()
