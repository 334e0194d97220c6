"""Auth and tenants: every /v1 call needs a token, and each token is an account of its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.http.tenant import tokens_of
from mock_server.settings import Settings, parse_tokens
from tests.conftest import Api, assert_error


def test_no_token_is_401_in_envelope(client: TestClient) -> None:
    body = assert_error(client.get("/v1/deals"), 401, "unauthorized")
    assert body["errorCode"] == 401


@pytest.mark.parametrize(
    "credentials",
    [
        {"params": {"api_token": "query-token"}},
        {"headers": {"x-api-token": "header-token"}},
        {"headers": {"Authorization": "Bearer oauth-token"}},
    ],
    ids=["api_token query", "x-api-token header", "bearer"],
)
def test_each_token_form_is_accepted(client: TestClient, credentials: dict[str, dict[str, str]]) -> None:
    response = client.get("/v1/currencies", **credentials)
    assert response.status_code == 200
    assert response.json()["success"] is True


def test_basic_authorization_is_not_a_token(client: TestClient) -> None:
    assert_error(client.get("/v1/deals", headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401)


def test_health_needs_no_token(client: TestClient) -> None:
    response = client.get("/__mock__/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_swagger_ui_is_served(client: TestClient) -> None:
    response = client.get("/v1/docs/")
    assert response.status_code == 200
    assert "swagger" in response.text.lower()


def test_tokens_of_reads_each_form() -> None:
    assert tokens_of({"headers": [(b"x-api-token", b"h")], "query_string": b""}) == ["h"]
    assert tokens_of({"headers": [(b"authorization", b"Bearer  b ")], "query_string": b""}) == ["b"]
    assert tokens_of({"headers": [], "query_string": b"x=1&api_token=q"}) == ["q"]
    assert tokens_of({"headers": [(b"authorization", b"Bearer ")], "query_string": b"api_token="}) == []


def test_two_different_tokens_are_401(client: TestClient) -> None:
    response = client.get("/v1/deals", params={"api_token": "one"}, headers={"x-api-token": "two"})
    assert_error(response, 401)


def test_the_same_token_twice_is_accepted(client: TestClient) -> None:
    response = client.get("/v1/currencies", params={"api_token": "same"}, headers={"x-api-token": "same"})
    assert response.status_code == 200


def test_parse_tokens_ignores_blanks() -> None:
    assert parse_tokens(" a, ,b ,") == frozenset({"a", "b"})
    assert parse_tokens(None) == frozenset()


@pytest.fixture(scope="module")
def locked_client() -> TestClient:
    app = create_app(Settings(tokens=frozenset({"allowed"}), validate_responses=True))
    with app.test_client() as test_client:
        yield test_client


def test_token_outside_allowed_list_is_401(locked_client: TestClient) -> None:
    assert_error(locked_client.get("/v1/deals", headers={"x-api-token": "stranger"}), 401)


def test_token_in_allowed_list_is_served(locked_client: TestClient) -> None:
    assert locked_client.get("/v1/deals", headers={"x-api-token": "allowed"}).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/__mock__/clock", {"freeze": "2026-01-01 00:00:00", "token": "stranger-token"}),
        ("GET", "/__mock__/tenants/stranger-token/state", None),
        ("PUT", "/__mock__/tenants/stranger-token/state", {"version": 1}),
        ("POST", "/__mock__/tenants/stranger-token/load", {"fixtures": "default"}),
        ("POST", "/__mock__/scenarios/rate-limited", {"token": "stranger-token"}),
    ],
)
def test_the_control_plane_makes_no_tenant_for_a_token_the_api_refuses(
    method: str, path: str, body: dict[str, object] | None
) -> None:
    app = create_app(Settings(tokens=frozenset({"allowed"})))
    with app.test_client() as client:
        response = client.request(method, path, json=body)
        assert_error(response, 400, "token", "--tokens")
        assert "stranger-token" not in response.text  # named masked, as the control plane names tokens
        assert client.get("/__mock__/health").json()["tenants"] == 0


def test_writes_of_one_tenant_are_invisible_to_another(client: TestClient) -> None:
    alice, bob = Api(client, "tenant-alice"), Api(client, "tenant-bob")
    deal = alice.data("POST", "/deals", json={"name": "Alice's secret deal", "person_id": 1})
    alice.data("PUT", "/deals/1", json={"name": "Renamed by Alice"})
    assert_error(bob.get(f"/deals/{deal['id']}"), 404)
    assert bob.data("GET", "/deals/1")["name"] != "Renamed by Alice"
    assert alice.data("GET", f"/deals/{deal['id']}")["name"] == "Alice's secret deal"


def test_deletes_of_one_tenant_are_invisible_to_another(client: TestClient) -> None:
    alice, bob = Api(client, "tenant-carol"), Api(client, "tenant-dave")
    alice.data("DELETE", "/activities", params={"ids": "1"})
    assert bob.data("GET", "/activities/1")["id"] == 1


def test_ids_are_sequenced_per_tenant(client: TestClient) -> None:
    first, second = Api(client, "tenant-seq-1"), Api(client, "tenant-seq-2")
    one = first.data("POST", "/deals", json={"person_id": 1})
    two = second.data("POST", "/deals", json={"person_id": 1})
    assert one["id"] == two["id"]


def test_mapped_token_acts_as_its_user(client: TestClient) -> None:
    maria = Api(client, "token-for-maria")
    deal = maria.data("POST", "/deals", json={"person_id": 1})
    assert deal["user_id"]["value"] == 2
    assert deal["creator_user_id"]["value"] == 2


def test_unmapped_token_acts_as_the_api_user(api: Api) -> None:
    assert api.data("POST", "/deals", json={"person_id": 1})["user_id"]["value"] == 1


def test_fixture_folder_default_is_bundled() -> None:
    assert (Path(Settings().fixtures) / "deals.yaml").exists()


def test_every_kind_of_write_stays_in_its_tenant(client: TestClient) -> None:
    """Tenants share the built fixture account until they change a record: no write may reach the shared copy."""
    writer, reader = Api(client, "tenant-writer"), Api(client, "tenant-reader")
    paths = ("/deals?limit=500", "/deals/2/products", "/activities/1", "/filters/1", "/dealFields/12472")
    before = {path: reader.data("GET", path) for path in paths}
    custom_key = "39c4b01fa288e17a6f1d3044b94af98c2282e368"
    assert next(deal for deal in before["/deals?limit=500"] if deal["id"] == 6)[custom_key] is not None
    writer.data("PUT", "/deals/2", json={"name": "Changed", "stage_id": 3, "status": "won"})
    writer.data("PUT", "/deals/2/products/1", json={"quantity": 99})
    writer.data("PUT", "/activities/1", json={"subject": "Changed", "done": 1})
    writer.data("PUT", "/filters/1", json={"name": "Changed", "conditions": before["/filters/1"]["conditions"]})
    writer.data("DELETE", "/dealFields/12472")
    writer.data("DELETE", "/deals", params={"ids": "6"})
    assert writer.data("GET", "/deals/2")["name"] == "Changed"
    assert writer.data("GET", "/activities/1")["subject"] == "Changed"
    assert_error(writer.get("/deals/6"), 404)
    assert custom_key not in writer.data("GET", "/deals/10")
    late = Api(client, "tenant-late")  # made after the writes, from the same shared account
    for path, answer in before.items():
        assert reader.data("GET", path) == answer, path
        assert late.data("GET", path) == answer, path
