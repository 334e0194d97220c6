"""Requests the API does not serve are seen: logged and journaled under their token, and a 404 for a path the spec
lacks names the served path it most resembles."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.http.nearest import NearestPath
from mock_server.http.tenant import mask_token
from mock_server.settings import Settings
from tests.conftest import assert_error

TOKEN = "unserved-token-0123456789"
UNSERVED = [
    ("GET", "/api/v2/deals", 404),
    ("POST", "/v2/deals", 404),
    ("GET", "/v1/nothing-here", 404),
    ("PATCH", "/v1/deals", 405),
]


@pytest.fixture(scope="module")
def mock() -> Iterator[TestClient]:
    with create_app(Settings()).test_client() as client:
        yield client


@pytest.mark.parametrize(("method", "path", "status"), UNSERVED)
def test_an_unserved_request_is_journaled_under_its_token(
    mock: TestClient, method: str, path: str, status: int
) -> None:
    token = f"{TOKEN}-{method}-{path}"
    answer = mock.request(method, path, headers={"x-api-token": token}, json={"name": "sent"})
    assert answer.status_code == status
    (entry,) = mock.get("/__mock__/requests", params={"token": token}).json()
    assert (entry["method"], entry["path"], entry["status"]) == (method, path, status)
    assert entry["tenant"] == mask_token(token)
    assert entry["body"] == {"name": "sent"}
    assert entry["headers"]["x-api-token"] == "***"


@pytest.mark.parametrize(("method", "path", "status"), UNSERVED)
def test_an_unserved_request_is_logged(
    mock: TestClient, caplog: pytest.LogCaptureFixture, method: str, path: str, status: int
) -> None:
    caplog.set_level(logging.INFO, logger="fintesk_mock.access")
    mock.request(method, path, headers={"x-api-token": TOKEN})
    (record,) = [record for record in caplog.records if record.name == "fintesk_mock.access"]
    assert record.request == {  # type: ignore[attr-defined]
        "method": method, "path": path, "status": status, "ms": record.request["ms"],  # type: ignore[attr-defined]
        "tenant": mask_token(TOKEN),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("path", "suggestion"),
    [
        ("/api/v2/deals", "/v1/deals"),
        ("/v2/deals", "/v1/deals"),
        ("/api/v2/deals/12/products", "/v1/deals/12/products"),
        ("/v1/deal", "/v1/deals"),
        ("/v1/activitytypes/3", "/v1/activityTypes/3"),
        ("/api/v3/dealFields", "/v1/dealFields"),
    ],
)
def test_a_404_names_the_served_path_it_most_resembles(mock: TestClient, path: str, suggestion: str) -> None:
    answer = mock.get(path, headers={"x-api-token": TOKEN})
    assert_error(answer, 404, f"Unknown path: {path}; did you mean {suggestion}?")


@pytest.mark.parametrize("path", ["/", "/favicon.ico", "/v1/gadgets", "/api/v2/deals/1/2/3/4"])
def test_a_404_like_no_served_path_suggests_none(mock: TestClient, path: str) -> None:
    answer = mock.get(path, headers={"x-api-token": TOKEN})
    assert_error(answer, 404, f"Unknown path: {path}")
    assert "did you mean" not in answer.json()["error"]


def test_the_suggestion_takes_the_prefixes_it_is_given() -> None:
    nearest = NearestPath(["/deals", "/deals/{id}"], ["/api/v1", "/v1"])
    assert nearest("/api/v2/deals/7") == "/api/v1/deals/7"
    assert nearest("/v1/deal") == "/api/v1/deals"
    assert NearestPath(["/deals"], [])("/deal") is None
