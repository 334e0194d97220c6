"""The pytest plugin's `fintesk_mock` fixture: a running mock, a fresh tenant per test, reset afterwards."""

from __future__ import annotations

from contract_tests.plugin import FinteskMock


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
