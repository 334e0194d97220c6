"""At most `--max-tenants` tenants live; past it the least recently used one is dropped and logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.settings import Settings
from tests.conftest import Api


@pytest.fixture
def three() -> Iterator[TestClient]:
    with create_app(Settings(max_tenants=3)).test_client() as client:
        yield client


def live(client: TestClient) -> int:
    return int(client.get("/__mock__/health").json()["tenants"])


def renamed(api: Api) -> str:
    return str(api.data("GET", "/deals/1")["name"])


def test_tenants_past_the_bound_drop_the_least_recently_used(three: TestClient) -> None:
    apis = [Api(three, f"tenant-{number}") for number in range(4)]
    for api in apis[:3]:
        api.data("PUT", "/deals/1", json={"name": f"Kept by {api.token}"})
    renamed(apis[0])  # tenant-0 is now the most recently used, tenant-1 the least
    apis[3].data("GET", "/deals")
    assert live(three) == 3
    assert renamed(apis[0]) == "Kept by tenant-0"
    assert renamed(apis[2]) == "Kept by tenant-2"
    assert renamed(apis[1]) != "Kept by tenant-1"  # dropped: it came back as a fresh account


def test_a_dropped_tenant_is_logged_without_its_token(three: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="fintesk_mock"):
        for number in range(5):
            Api(three, f"secret-token-{number}").data("GET", "/currencies")
    dropped = [record.getMessage() for record in caplog.records if "dropped" in record.getMessage()]
    assert len(dropped) == 2
    assert not any("secret-token" in message for message in dropped)


def test_an_imported_or_loaded_tenant_counts_too(three: TestClient) -> None:
    for number in range(5):
        response = three.post(f"/__mock__/tenants/loaded-{number}/load", json={"fixtures": "default"})
        assert response.status_code == 200, response.text
    assert live(three) == 3


def test_many_tokens_keep_memory_bounded(three: TestClient) -> None:
    for number in range(50):
        Api(three, f"fuzz-{number}").get("/currencies")
    assert live(three) == 3
