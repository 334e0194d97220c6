"""Resets that reset: a tenant's account, clock, faults and rate limit go with it; a global reset drops them all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.http.tenant import mask_token
from mock_server.settings import Settings
from tests.conftest import Api, admin


def app_client(**settings: Any) -> TestClient:
    return create_app(Settings(validate_responses=True, **settings)).test_client()


@pytest.fixture
def mock() -> Iterator[TestClient]:
    with app_client() as client:
        yield client


def test_a_tenant_reset_drops_the_faults_and_rate_limit_its_scenario_added(mock: TestClient) -> None:
    admin(mock, "POST", "/scenarios/flaky-server", json={"token": "alice"})
    admin(mock, "POST", "/scenarios/rate-limited", json={"token": "alice"})
    assert {fault["tenant"] for fault in admin(mock, "GET", "/faults")} == {mask_token("alice")}
    assert admin(mock, "GET", "/rate-limit")["tokens"] == {mask_token("alice"): 5}
    admin(mock, "POST", "/reset", json={"token": "alice"})
    assert admin(mock, "GET", "/faults") == []
    assert admin(mock, "GET", "/rate-limit") == {"default": 0, "tokens": {}}


def test_a_tenant_reset_keeps_other_tenants_faults(mock: TestClient) -> None:
    admin(mock, "POST", "/faults", json={"kind": "status", "tenant": "alice", "status": 503})
    admin(mock, "POST", "/faults", json={"kind": "status", "tenant": "bob", "status": 502})
    admin(mock, "POST", "/reset", json={"token": "alice"})
    assert [fault["tenant"] for fault in admin(mock, "GET", "/faults")] == [mask_token("bob")]


def test_a_tenant_reset_drops_its_clock(mock: TestClient) -> None:
    admin(mock, "POST", "/clock", json={"freeze": "2020-01-01 00:00:00", "token": "alice"})
    admin(mock, "POST", "/reset", json={"token": "alice"})
    assert admin(mock, "GET", "/clock", params={"token": "alice"})["frozen"] is False


def test_a_global_reset_drops_every_fault_limit_and_clock(mock: TestClient) -> None:
    admin(mock, "POST", "/faults", json={"kind": "delay", "delay_ms": 1})
    admin(mock, "PUT", "/rate-limit", json={"limit": 3})
    admin(mock, "PUT", "/rate-limit", json={"limit": 9, "token": "bob"})
    admin(mock, "POST", "/clock", json={"freeze": "2020-01-01 00:00:00"})
    admin(mock, "POST", "/clock", json={"freeze": "2021-01-01 00:00:00", "token": "bob"})
    admin(mock, "POST", "/reset")
    assert admin(mock, "GET", "/faults") == []
    assert admin(mock, "GET", "/rate-limit") == {"default": 0, "tokens": {}}
    assert admin(mock, "GET", "/clock")["frozen"] is False
    assert admin(mock, "GET", "/clock", params={"token": "bob"})["frozen"] is False


def test_a_global_reset_keeps_what_the_server_was_started_with() -> None:
    with app_client(scenario="rate-limited") as client:
        admin(client, "PUT", "/rate-limit", json={"limit": 0})
        admin(client, "POST", "/reset")
        assert admin(client, "GET", "/rate-limit")["default"] == 5


def test_a_bare_reset_resets_every_tenant(mock: TestClient) -> None:
    alice = Api(mock, "alice")
    alice.data("PUT", "/deals/1", json={"name": "Changed"})
    response = mock.post("/__mock__/reset")
    assert (response.status_code, response.json()) == (200, {"reset": "all"})
    assert alice.data("GET", "/deals/1")["name"] != "Changed"


@pytest.mark.parametrize("body", [b"", b"  \n"])
def test_an_empty_body_is_an_empty_object_on_routes_of_optional_fields(mock: TestClient, body: bytes) -> None:
    headers = {"content-type": "application/json"}
    assert mock.post("/__mock__/reset", content=body, headers=headers).json() == {"reset": "all"}
    assert mock.post("/__mock__/clock", content=body, headers=headers).json()["frozen"] is False
    applied = mock.post("/__mock__/scenarios/rate-limited", content=body, headers=headers).json()
    assert applied == {"scenario": "rate-limited", "token": "all"}


def test_an_empty_body_is_still_400_where_a_field_is_required(mock: TestClient) -> None:
    response = mock.post("/__mock__/seed")
    assert response.status_code == 400
    assert response.json()["success"] is False
