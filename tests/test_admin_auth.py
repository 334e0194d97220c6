"""The admin token: every control route but the health check answers 401 without it and 200 with it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner
from starlette.testclient import TestClient

from mock_server import ADMIN_SPEC_PATH
from mock_server.app import create_app
from mock_server.cli import main
from mock_server.client import MockControl
from mock_server.settings import Settings, is_loopback
from tests.conftest import assert_error

ADMIN = "admin-secret-42"
# One call per control-plane operation that succeeds on a fresh server, in an order where each can succeed.
CALLS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "resetMock": ("POST", "/reset", {}),
    "exportState": ("GET", "/tenants/t1/state", None),
    "importState": ("PUT", "/tenants/t2/state", None),  # the body is t1's export
    "loadFixtures": ("POST", "/tenants/t1/load", {"fixtures": "default"}),
    "getClock": ("GET", "/clock", None),
    "setClock": ("POST", "/clock", {"resume": True}),
    "setSeed": ("POST", "/seed", {"seed": 3}),
    "listFaults": ("GET", "/faults", None),
    "addFault": ("POST", "/faults", {"kind": "delay", "delay_ms": 1}),
    "deleteFault": ("DELETE", "/faults/1", None),
    "clearFaults": ("DELETE", "/faults", None),
    "getRateLimit": ("GET", "/rate-limit", None),
    "setRateLimit": ("PUT", "/rate-limit", {"limit": 0}),
    "listRequests": ("GET", "/requests", None),
    "clearRequests": ("DELETE", "/requests", None),
    "listScenarios": ("GET", "/scenarios", None),
    "applyScenario": ("POST", "/scenarios/deleted-and-lost-deals", {"token": "t3"}),
    "listDeliveries": ("GET", "/deliveries?token=t1", None),
    "addDeliveryFault": ("POST", "/deliveries/faults?token=t1", {"kind": "drop"}),
    "listDeliveryFaults": ("GET", "/deliveries/faults?token=t1", None),
    "clearDeliveryFaults": ("DELETE", "/deliveries/faults?token=t1", None),
    "resendDelivery": ("POST", "/deliveries/1/resend?token=t1", None),
}
# Past the admin token, what a fresh server answers when it is not 200: it has sent no webhook to resend.
PAST_THE_TOKEN = {"resendDelivery": 404}


def admin_operations() -> set[str]:
    spec = yaml.safe_load(ADMIN_SPEC_PATH.read_text(encoding="utf-8"))
    items = spec["paths"].values()
    return {operation["operationId"] for item in items for operation in item.values() if "operationId" in operation}


@pytest.fixture
def locked() -> TestClient:
    with create_app(Settings(admin_token=ADMIN)).test_client() as client:
        return client


def call(client: TestClient, operation: str, headers: dict[str, str]) -> httpx.Response:
    method, path, body = CALLS[operation]
    if operation == "importState":
        body = client.get("/__mock__/tenants/t1/state", headers={"x-admin-token": ADMIN}).json()
    return client.request(method, "/__mock__" + path, json=body, headers=headers)


def test_every_control_operation_is_checked_here() -> None:
    assert admin_operations() == {*CALLS, "mockHealth"}


@pytest.mark.parametrize("operation", list(CALLS))
def test_control_route_without_the_admin_token_is_401(locked: TestClient, operation: str) -> None:
    assert_error(call(locked, operation, {}), 401, "x-admin-token")


@pytest.mark.parametrize("operation", list(CALLS))
def test_control_route_with_a_wrong_admin_token_is_401(locked: TestClient, operation: str) -> None:
    assert_error(call(locked, operation, {"x-admin-token": ADMIN + "x"}), 401, "x-admin-token")


def test_every_control_route_answers_200_with_the_admin_token(locked: TestClient) -> None:
    locked.post("/__mock__/faults", json={"kind": "delay"}, headers={"x-admin-token": ADMIN})  # fault 1 to delete
    for operation in CALLS:
        response = call(locked, operation, {"x-admin-token": ADMIN})
        assert response.status_code == PAST_THE_TOKEN.get(operation, 200), (operation, response.text)


def test_refused_control_call_changes_nothing(locked: TestClient) -> None:
    assert locked.post("/__mock__/faults", json={"kind": "status", "status": 503}).status_code == 401
    assert locked.get("/__mock__/faults", headers={"x-admin-token": ADMIN}).json() == []


def test_health_needs_no_admin_token(locked: TestClient) -> None:
    assert locked.get("/__mock__/health").status_code == 200


def test_unknown_control_path_without_the_token_is_401_not_a_route_listing(locked: TestClient) -> None:
    assert_error(locked.get("/__mock__/nothing-here"), 401)


def test_api_routes_need_no_admin_token(locked: TestClient) -> None:
    assert locked.get("/v1/currencies", headers={"x-api-token": "t"}).status_code == 200


def test_without_an_admin_token_the_control_plane_is_open() -> None:
    with create_app(Settings()).test_client() as client:
        assert client.get("/__mock__/faults").status_code == 200


def test_mock_control_sends_the_admin_token_from_the_environment(
    locked: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINTESK_MOCK_ADMIN_TOKEN", ADMIN)
    root = "http://testserver/__mock__"
    assert MockControl(root, client=TestClient(locked.app, base_url=root)).faults() == []
    monkeypatch.delenv("FINTESK_MOCK_ADMIN_TOKEN")
    with pytest.raises(RuntimeError, match="401"):
        MockControl(root, client=TestClient(locked.app, base_url=root)).faults()


def test_the_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    monkeypatch.setattr("hmac.compare_digest", lambda a, b: compared.append((a, b)) or False)
    with create_app(Settings(admin_token=ADMIN)).test_client() as client:
        assert client.get("/__mock__/faults", headers={"x-admin-token": "guess"}).status_code == 401
    assert compared == [(b"guess", ADMIN.encode())]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.5.0.1", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.4", False), ("example.org", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What `serve` would hand uvicorn, instead of serving."""
    runs: list[dict[str, Any]] = []
    monkeypatch.setattr("mock_server.cli.run_server", lambda app, **options: runs.append({"app": app, **options}))
    for name in ("FINTESK_MOCK_ADMIN_TOKEN", "FINTESK_MOCK_OPEN_CONTROL_PLANE", "FINTESK_MOCK_HOST"):
        monkeypatch.delenv(name, raising=False)
    return runs


def test_serve_on_every_address_without_an_admin_token_refuses_to_start(served: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 1 and served == []
    (line,) = result.output.strip().splitlines()
    assert "--admin-token" in line and "0.0.0.0" in line


def test_serve_on_every_address_with_an_admin_token_starts_locked(served: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0"], env={"FINTESK_MOCK_ADMIN_TOKEN": ADMIN})
    assert result.exit_code == 0, result.output
    (run,) = served
    assert run["host"] == "0.0.0.0" and run["app"].state["settings"].admin_token == ADMIN
    assert ADMIN not in result.output


def test_serve_on_every_address_opened_on_purpose_starts(served: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--open-control-plane"])
    assert result.exit_code == 0, result.output
    assert served[0]["app"].state["settings"].admin_token is None


def test_admin_spec_declares_the_scheme_and_every_guarded_401() -> None:
    spec = yaml.safe_load(ADMIN_SPEC_PATH.read_text(encoding="utf-8"))
    scheme = spec["components"]["securitySchemes"]["admin_token"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "x-admin-token")
    for item in spec["paths"].values():
        for operation in item.values():
            if "operationId" not in operation:
                continue
            guarded = operation["operationId"] != "mockHealth"
            assert ("401" in operation["responses"]) is guarded, operation["operationId"]
            assert (operation.get("security") == []) is not guarded, operation["operationId"]
