"""The pytest plugin's `fintesk_mock` fixture: a running mock, a fresh tenant per test, reset afterwards."""

from __future__ import annotations

import httpx
import pytest

from contract_tests.plugin import FinteskMock, MockServer


def test_fixture_serves_the_bundled_account_over_http(fintesk_mock: FinteskMock) -> None:
    with fintesk_mock.client() as client:
        response = client.get("/deals", params={"limit": 2})
    assert response.status_code == 200
    assert len(response.json()["data"]) == 2


def test_each_test_gets_its_own_token(fintesk_mock: FinteskMock) -> None:
    assert fintesk_mock.token.startswith("pytest-")
    with fintesk_mock.client() as client:
        created = client.post("/deals", json={"name": "Plugin deal", "person_id": 1}).json()["data"]
        assert client.get(f"/deals/{created['id']}").status_code == 200
    other = FinteskMock(fintesk_mock.base_url, fintesk_mock.token + "-other")
    with other.client() as client:
        assert client.get(f"/deals/{created['id']}").status_code == 404


def test_reset_returns_the_tenant_to_the_fixtures(fintesk_mock: FinteskMock) -> None:
    with fintesk_mock.client() as client:
        created = client.post("/deals", json={"name": "Short-lived", "person_id": 1}).json()["data"]
        fintesk_mock.reset()
        assert client.get(f"/deals/{created['id']}").status_code == 404


def test_fail_next_hits_only_this_test_and_only_once(fintesk_mock: FinteskMock) -> None:
    fintesk_mock.fail_next("POST /v1/deals", status=503)
    with fintesk_mock.client() as client:
        first = client.post("/deals", json={"person_id": 1})
        second = client.post("/deals", json={"person_id": 1})
    assert (first.status_code, first.json()["success"]) == (503, False)
    assert second.status_code == 201


def test_freeze_sets_the_time_of_writes(fintesk_mock: FinteskMock) -> None:
    fintesk_mock.freeze("2024-01-01 09:00:00")
    with fintesk_mock.client() as client:
        deal = client.post("/deals", json={"person_id": 1}).json()["data"]
    assert deal["add_time"] == "2024-01-01 09:00:00"


def test_the_clock_runs_again_after_a_test_that_froze_it(fintesk_mock: FinteskMock) -> None:
    assert fintesk_mock.control.clock()["frozen"] is False


def test_requests_show_what_the_test_sent(fintesk_mock: FinteskMock) -> None:
    with fintesk_mock.client() as client:
        client.post("/deals", json={"name": "Sent by the test", "person_id": 1})
        client.get("/currencies")
    sent = fintesk_mock.requests(path="/v1/deals")
    assert [(entry["method"], entry["body"]["name"]) for entry in sent] == [("POST", "Sent by the test")]


def test_freeze_moves_only_this_tests_clock(fintesk_mock: FinteskMock) -> None:
    fintesk_mock.freeze("2024-01-01 09:00:00")
    fintesk_mock.advance("1h")
    assert fintesk_mock.clock()["now"] == "2024-01-01 10:00:00"
    assert fintesk_mock.control.clock()["frozen"] is False
    other = FinteskMock(fintesk_mock.base_url, fintesk_mock.token + "-other")
    with other.client() as client:
        assert client.post("/deals", json={"person_id": 1}).json()["data"]["add_time"] > "2025-01-01 00:00:00"


def test_with_an_admin_token_the_plugins_server_is_locked_and_its_calls_carry_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FINTESK_MOCK_ADMIN_TOKEN", "plugin-admin")
    server = MockServer()
    server.start()
    try:
        root = server.base_url.removesuffix("/v1")
        assert httpx.get(f"{root}/__mock__/faults", timeout=30).status_code == 401
        mock = FinteskMock(server.base_url, "pytest-locked")
        mock.fail_next("POST /v1/deals", status=503)
        with mock.client() as client:
            assert client.post("/deals", json={"person_id": 1}).status_code == 503
        mock.close()
    finally:
        server.stop()
