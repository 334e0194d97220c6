"""At most `--max-tenants` tenants live; past it the least recently used one is dropped and logged."""

from __future__ import annotations

import gc
import logging
import weakref
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


# Reads and writes that leave something behind in an account: kept renders, indexes, memos, a search, a log.
USED = [
    ("GET", "/deals", None),
    ("GET", "/deals/1", None),
    ("PUT", "/deals/1", {"name": "Changed before the tenant leaves"}),
    ("POST", "/deals", {"name": "Made before the tenant leaves", "person_id": 1}),
    ("GET", "/deals/search?term=deal", None),
    ("GET", "/itemSearch?term=deal", None),
    ("GET", "/deals/summary", None),
    ("GET", "/deals/timeline?start_date=2024-01-01&interval=month&amount=3&field_key=add_time", None),
    ("GET", "/deals/1/flow", None),
    ("GET", "/deals/1/persons", None),
    ("GET", "/deals/1/activities", None),
    ("GET", "/deals/1/products", None),
    ("GET", "/activities", None),
    ("GET", "/dealFields", None),
    ("GET", "/filters", None),
]


@pytest.mark.parametrize("leave", ["dropped", "reset", "replaced"])
def test_a_tenant_that_leaves_frees_its_account(leave: str) -> None:
    """Nothing keeps an account that left: not the tenants, nor the answers, views and locks kept for it."""
    app = create_app(Settings(max_tenants=1))
    tenants = app.state["tenants"]
    with app.test_client() as client:
        api = Api(client, "leaving")
        for method, path, body in USED:
            response = api.request(method, path, json=body)
            assert response.status_code < 300, (path, response.text)
        account = weakref.ref(tenants.for_token("leaving"))
        if leave == "dropped":
            Api(client, "newcomer").data("GET", "/currencies")
        elif leave == "reset":
            assert client.post("/__mock__/reset", headers={"x-api-token": "leaving"}).status_code == 200
        else:
            loaded = client.post("/__mock__/tenants/leaving/load", json={"fixtures": "default"})
            assert loaded.status_code == 200, loaded.text
        gc.collect()
        assert account() is None
