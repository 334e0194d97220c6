"""The Host allowlist: a rebound name (DNS rebinding) is refused on every route; this machine's names are served."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.http.hosts import HostAllowlist, host_name, machine_names
from mock_server.settings import Settings
from tests.server import running_server

ROUTES = ["/v1/deals", "/v1/docs/", "/v1/openapi.json", "/__mock__/health", "/__mock__/requests",
          "/__mock__/tenants/secret/state", "/nowhere"]  # fmt: skip
TOKEN = {"x-api-token": "hosts"}
SOCKET = {"server": ("127.0.0.1", 8080)}  # what uvicorn puts in the scope of a request that came through a socket


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    with running_server() as base_url:
        yield base_url


def get(base_url: str, path: str, host: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(base_url + path, headers={**TOKEN, "host": host}, timeout=30, **kwargs)


@pytest.mark.parametrize("path", ROUTES)
def test_a_rebound_name_is_refused_on_every_route(served: str, path: str) -> None:
    response = get(served, path, "evil.example:8080")
    assert response.status_code == 403
    body = response.json()
    assert body["success"] is False
    assert "'evil.example:8080'" in body["error"] and "--allowed-host evil.example" in body["error"]


@pytest.mark.parametrize("host", ["localhost", "localhost:1234", "127.0.0.1", "127.0.0.1:80", "[::1]", "[::1]:9",
                                  "LOCALHOST", "app.localhost:3000"])  # fmt: skip
def test_loopback_names_are_served_with_any_port(served: str, host: str) -> None:
    assert get(served, "/v1/currencies", host).status_code == 200


def test_a_refusal_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with create_app(Settings()).test_client() as client, caplog.at_level("WARNING", logger="fintesk_mock"):
        response = client.get("/__mock__/requests?api_token=secret", headers={"host": "rebound.example"})
    assert response.status_code == 403
    assert "refused GET /__mock__/requests: Host 'rebound.example' is not allowed" in caplog.text
    assert "secret" not in caplog.text


def test_allowed_host_flag_and_variable() -> None:
    with running_server("--allowed-host", "mock.test", "--allowed-host", "two.test") as url:
        assert get(url, "/v1/currencies", "mock.test:8080").status_code == 200
        assert get(url, "/v1/currencies", "two.test").status_code == 200
        assert get(url, "/v1/currencies", "evil.example").status_code == 403
    with running_server(env={**os.environ, "FINTESK_MOCK_ALLOWED_HOST": "other.test,third.test"}) as url:
        assert get(url, "/v1/currencies", "other.test").status_code == 200
        assert get(url, "/v1/currencies", "third.test").status_code == 200
        assert get(url, "/v1/currencies", "mock.test").status_code == 403


def test_a_star_allows_any_host() -> None:
    app = create_app(Settings(allowed_hosts=("*",)))
    with TestClient(app) as client:
        response = client.get("/v1/currencies", headers={**TOKEN, "host": "anything.example"})
    assert response.status_code == 200


def test_the_served_address_and_the_machines_own_names_when_serving_every_interface() -> None:
    allowlist = HostAllowlist("0.0.0.0")
    for name in machine_names():
        host = f"[{name}]:8080" if ":" in name else f"{name}:8080"
        assert allowlist.allows(host, SOCKET), name
    assert allowlist.allows(f"{socket.gethostname()}:8080", SOCKET)
    assert not allowlist.allows("evil.example", SOCKET)
    # The address a connection came in on is the server's own.
    assert allowlist.allows("192.0.2.7:8080", {"server": ("192.0.2.7", 8080)})
    assert not allowlist.allows("192.0.2.8", {"server": ("192.0.2.7", 8080)})
    assert HostAllowlist("192.0.2.7").allows("192.0.2.7:8080", SOCKET)
    # Bound to loopback, the machine's names are not served (a rebinding name may share them).
    assert not HostAllowlist("127.0.0.1").allows(f"{socket.getfqdn()}.rebound.example", SOCKET)


def test_an_in_process_client_is_served_but_its_name_is_not_over_a_socket(served: str) -> None:
    with create_app(Settings()).test_client() as client:  # sends `Host: testserver`
        assert client.get("/v1/currencies", headers=TOKEN).status_code == 200
    assert get(served, "/v1/currencies", "testserver").status_code == 403


@pytest.mark.parametrize(("header", "name"), [("Example.COM:80", "example.com"), ("[::1]:8080", "::1"),
                                              ("::1", "::1"), ("host.", "host"), ("a:b", "a:b")])  # fmt: skip
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name
