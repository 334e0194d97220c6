"""Real clients, unchanged, against the intercepted mock, with every socket call refused: a published client built
on requests with its production URL, plain httpx sync and async, and a user's suite under pytest-xdist."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_server.interception import intercept

pipedrive_client = pytest.importorskip("pipedrive.client", reason="the `test` extra pins the published client")
exceptions = pytest.importorskip("pipedrive.exceptions")


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every way out to the network or in from it fails, and is recorded; the test must record none."""
    used: list[str] = []

    def refused(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            used.append(name)
            raise OSError(f"socket {name} during a test that must open no socket")

        return call

    for name in ("connect", "connect_ex", "bind", "listen"):
        monkeypatch.setattr(socket.socket, name, refused(name))
    for name in ("create_connection", "getaddrinfo"):
        monkeypatch.setattr(socket, name, refused(name))
    yield used
    assert used == []


def test_the_socket_guard_catches_a_real_connection(no_sockets: list[str]) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get("http://127.0.0.1:9/")
    assert no_sockets
    no_sockets.clear()


def test_a_published_requests_client_runs_unchanged(no_sockets: list[str]) -> None:
    Client = pipedrive_client.Client  # noqa: N806 - the library's class
    # The library's own production URL, named as a base: its calls go to {BASE_URL}v1/...
    with intercept(bases=[Client.BASE_URL]) as mock:
        client = Client(domain=Client.BASE_URL)
        client.set_api_token("published-client-token")
        created = client.deals.create_deal({"name": "Through the library", "person_id": 1})["data"]
        assert client.deals.get_deal(created["id"])["data"]["name"] == "Through the library"
        client.deals.update_deal(created["id"], {"status": "won"})
        assert client.deals.get_deal(created["id"])["data"]["status"] == "won"
        assert len(client.deals.get_all_deals(params={"limit": 3})["data"]) == 3
        with pytest.raises(exceptions.NotFoundError):
            client.deals.get_deal(created["id"] + 1000)
        mock.control.fail_next("GET /v1/deals", status=503, tenant="published-client-token")
        with pytest.raises(exceptions.ServiceUnavailableError):
            client.deals.get_all_deals()
        sent = [(entry["method"], entry["path"]) for entry in mock.control.requests(token="published-client-token")]
        mock.control.reset("published-client-token")
    assert sent[:2] == [("POST", "/v1/deals"), ("GET", f"/v1/deals/{created['id']}")]
    assert len(sent) == 7


def test_plain_httpx_sync_and_async_run_unchanged(no_sockets: list[str]) -> None:
    headers = {"x-api-token": "httpx-client-token"}

    async def list_async() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url="https://acme.fintesk.com/api/v1", headers=headers) as client:
            return list((await client.get("/deals", params={"limit": 2})).json()["data"])

    with intercept(), httpx.Client(base_url="https://api.fintesk.com/v1", headers=headers) as client:
        created = client.post("/deals", json={"name": "Sync and async", "person_id": 1}).json()["data"]
        found = asyncio.run(list_async())
        assert client.get(f"/deals/{created['id']}").json()["data"]["name"] == "Sync and async"
        client.delete(f"/deals/{created['id']}")
    assert len(found) == 2


USER_SUITE = """
import os
import socket

import requests


class CrmSync:
    # The production URL, written in the code under test.
    BASE = "https://api.fintesk.com/v1"

    def __init__(self, token):
        self.session = requests.Session()
        self.session.headers["x-api-token"] = token

    def open_deal(self, name):
        return self.session.post(f"{self.BASE}/deals", json={"name": name, "person_id": 1}, timeout=30).json()["data"]


def refuse(*args, **kwargs):
    raise OSError("a socket was opened")


def run(fintesk_intercept, monkeypatch, moment):
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    fintesk_intercept.freeze(moment)
    deal = CrmSync(fintesk_intercept.token).open_deal("Pilot")
    assert deal["add_time"] == moment
    assert [entry["path"] for entry in fintesk_intercept.requests()] == ["/v1/deals"]


def test_first(fintesk_intercept, monkeypatch):
    run(fintesk_intercept, monkeypatch, "2020-01-01 08:00:00")


def test_second(fintesk_intercept, monkeypatch):
    run(fintesk_intercept, monkeypatch, "2030-01-01 08:00:00")
"""


DOCS = Path(__file__).resolve().parent.parent / "docs" / "intercept.md"


def docs_example() -> str:
    """The first Python example of docs/intercept.md: a user's tests of a class with its production URL."""
    return DOCS.read_text(encoding="utf-8").split("```python\n", 1)[1].split("```", 1)[0]


def test_a_users_suite_and_the_docs_example_run_under_xdist(tmp_path: Path) -> None:
    pytest.importorskip("xdist", reason="pytest-xdist (the `test` extra) runs the suite in parallel")
    (tmp_path / "test_user_suite.py").write_text(USER_SUITE, encoding="utf-8")
    (tmp_path / "test_docs_example.py").write_text(docs_example(), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "test_user_suite.py", "test_docs_example.py"],
        cwd=tmp_path, env=dict(os.environ), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout
