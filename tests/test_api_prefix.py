"""The company-domain form: every path under /api/v1 is served as under /v1, to the request log and journal too."""

from __future__ import annotations

import logging

import pytest
from starlette.testclient import TestClient

from tests.conftest import Api, admin


def test_a_read_answers_the_same_under_api_v1(client: TestClient, api: Api) -> None:
    direct = api.get("/pipelines/1")
    prefixed = client.get("/api/v1/pipelines/1", headers={"x-api-token": api.token})

    assert prefixed.status_code == 200
    assert prefixed.json() == direct.json()


def test_a_write_under_api_v1_changes_the_tenants_account(client: TestClient, api: Api) -> None:
    response = client.post("/api/v1/deals", json={"person_id": 1, "name": "Via company domain"},
                           headers={"x-api-token": api.token})  # fmt: skip

    assert response.status_code == 201, response.text
    deal_id = response.json()["data"]["id"]
    assert api.data("GET", f"/deals/{deal_id}")["name"] == "Via company domain"
    assert client.delete(f"/api/v1/deals/{deal_id}", headers={"x-api-token": api.token}).json()["data"] == {
        "id": deal_id
    }


def test_docs_and_openapi_are_served_under_api_v1(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json")
    docs = client.get("/api/v1/docs/")

    assert spec.status_code == 200 and spec.json() == client.get("/v1/openapi.json").json()
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_errors_and_unknown_paths_keep_the_envelope_under_api_v1(client: TestClient, api: Api) -> None:
    missing = client.get("/api/v1/pipelines/999", headers={"x-api-token": api.token})
    unauthorized = client.get("/api/v1/deals")

    assert missing.status_code == 404 and missing.json()["success"] is False
    assert unauthorized.status_code == 401 and unauthorized.json()["success"] is False


def test_only_the_exact_prefix_is_rewritten(client: TestClient, api: Api) -> None:
    assert client.get("/api/v10/deals", headers={"x-api-token": api.token}).status_code == 404
    assert client.get("/apiv1/deals", headers={"x-api-token": api.token}).status_code == 404


def test_the_journal_and_request_log_see_the_served_path(mock: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    mock.get("/api/v1/stages?pipeline_id=1", headers={"x-api-token": "prefix-journal"})

    entries = admin(mock, "GET", "/requests", params={"token": "prefix-journal"})
    assert [entry["path"] for entry in entries] == ["/v1/stages"]
    logged = [record.getMessage() for record in caplog.records if record.name == "fintesk_mock.access"]
    assert [message.split()[1] for message in logged] == ["/v1/stages?pipeline_id=1"]
