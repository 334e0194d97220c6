"""The request journal: the last requests per tenant, without secrets, filtered by path, bounded in memory."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from connexion import AsyncApp
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.control import journal as journal_module
from mock_server.control.journal import (
    Journal,
    JournalMiddleware,
    decoded_body,
    masked_headers,
    masked_query,
    path_matches,
)
from mock_server.errors import Invalid
from mock_server.http.tenant import mask_token
from mock_server.settings import Settings


def request(path: str = "/v1/deals", **fields: Any) -> dict[str, Any]:
    return {"method": "GET", "path": path, "query": {}, "headers": {}, "body": None, "status": 200, **fields}


# The journal


def test_entries_are_numbered_stamped_and_kept_oldest_first() -> None:
    journal = Journal(stamp=lambda _token: "2024-01-01 09:00:00")
    journal.record("t", request("/v1/deals"))
    journal.record("t", request("/v1/activities"))
    entries = journal.entries("t")
    assert [(entry["id"], entry["path"]) for entry in entries] == [(1, "/v1/deals"), (2, "/v1/activities")]
    assert entries[0]["time"] == "2024-01-01 09:00:00"
    assert entries[0]["tenant"] == mask_token("t")


def test_each_tenant_keeps_only_its_last_size_requests() -> None:
    journal = Journal(size=3)
    for number in range(5):
        journal.record("t", request(f"/v1/deals/{number}"))
    assert [entry["path"] for entry in journal.entries("t")] == ["/v1/deals/2", "/v1/deals/3", "/v1/deals/4"]


def test_a_tenant_sees_only_its_own_requests() -> None:
    journal = Journal()
    journal.record("a", request("/v1/deals"))
    journal.record("b", request("/v1/activities"))
    assert [entry["tenant"] for entry in journal.entries("a")] == [mask_token("a")]


def test_without_a_tenant_every_tenants_requests_are_listed_in_order() -> None:
    journal = Journal()
    journal.record("a", request("/v1/deals/1"))
    journal.record("b", request("/v1/deals/2"))
    journal.record("a", request("/v1/deals/3"))
    assert [entry["path"] for entry in journal.entries()] == ["/v1/deals/1", "/v1/deals/2", "/v1/deals/3"]


def test_the_least_recently_active_tenant_is_dropped_past_the_tenant_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_module, "MAX_TENANTS", 2)
    journal = Journal()
    journal.record("a", request())
    journal.record("b", request())
    journal.record("a", request())
    journal.record("c", request())
    assert {entry["tenant"] for entry in journal.entries()} == {mask_token("a"), mask_token("c")}


def test_path_filter_takes_a_prefix_of_whole_segments() -> None:
    journal = Journal()
    for path in ("/v1/deals", "/v1/deals/7/products", "/v1/dealFields", "/v1/activities"):
        journal.record("t", request(path))
    assert [entry["path"] for entry in journal.entries("t", path="/v1/deals")] == ["/v1/deals", "/v1/deals/7/products"]


def test_path_filter_takes_a_glob() -> None:
    journal = Journal()
    for path in ("/v1/deals", "/v1/deals/7", "/v1/deals/7/products"):
        journal.record("t", request(path))
    assert [entry["path"] for entry in journal.entries("t", path="/v1/deals/*/products")] == ["/v1/deals/7/products"]


def test_limit_keeps_the_newest_entries() -> None:
    journal = Journal()
    for number in range(4):
        journal.record("t", request(f"/v1/deals/{number}"))
    assert [entry["path"] for entry in journal.entries("t", limit=2)] == ["/v1/deals/2", "/v1/deals/3"]
    assert len(journal.entries("t", limit=10)) == 4
    assert journal.entries("t", limit=0) == []


def test_a_negative_limit_is_refused_with_a_sentence() -> None:
    with pytest.raises(Invalid, match="'limit' must be a whole number of requests, 0 or more"):
        Journal().entries(limit=-1)


def test_clear_of_one_tenant_leaves_the_others() -> None:
    journal = Journal()
    journal.record("a", request())
    journal.record("b", request())
    journal.clear("a")
    assert [entry["tenant"] for entry in journal.entries()] == [mask_token("b")]


def test_clear_without_a_tenant_empties_the_journal() -> None:
    journal = Journal()
    journal.record("a", request())
    journal.record("b", request())
    journal.clear()
    assert journal.entries() == []


def test_entries_are_copies_of_what_is_kept() -> None:
    journal = Journal()
    journal.record("t", request(body={"name": "kept"}))
    journal.entries("t")[0]["body"]["name"] = "changed"
    assert journal.entries("t")[0]["body"] == {"name": "kept"}


def test_credentials_in_headers_are_masked() -> None:
    headers = masked_headers(
        [
            (b"X-Api-Token", b"secret"),
            (b"authorization", b"Bearer secret"),
            (b"cookie", b"s=secret"),
            (b"accept", b"*/*"),
        ]
    )
    assert headers == {"x-api-token": "***", "authorization": "***", "cookie": "***", "accept": "*/*"}


def test_the_token_parameter_is_masked_and_repeated_parameters_become_lists() -> None:
    assert masked_query(b"api_token=secret&ids=1&ids=2&start=0") == {
        "api_token": "***",
        "ids": ["1", "2"],
        "start": "0",
    }


def test_a_json_body_is_kept_parsed() -> None:
    assert decoded_body(b'{"name": "A"}', "application/json") == {"name": "A"}


def test_a_text_body_is_kept_as_text_cut_to_10_kb() -> None:
    assert decoded_body(b"x" * 20_000, "text/plain") == "x" * 10 * 1024


def test_an_empty_body_is_none() -> None:
    assert decoded_body(b"", "application/json") is None


def test_a_plain_path_filter_matches_itself_and_below_only() -> None:
    assert path_matches("/v1/deals/", "/v1/deals")
    assert not path_matches("/v1/deal", "/v1/deals")


# The middleware, around the app


@pytest.fixture(scope="module")
def app() -> AsyncApp:
    return create_app(Settings())


@pytest.fixture
def journaled(app: AsyncApp) -> Iterator[tuple[TestClient, Journal]]:
    journal = Journal()
    with TestClient(JournalMiddleware(app, journal)) as client:
        yield client, journal


def test_a_post_body_is_journaled_and_still_reaches_the_app(journaled: tuple[TestClient, Journal]) -> None:
    client, journal = journaled
    response = client.post("/v1/deals", json={"name": "Journaled deal", "person_id": 1}, headers={"x-api-token": "j1"})
    assert response.status_code == 201, response.text
    deal_id = response.json()["data"]["id"]
    assert client.get(f"/v1/deals/{deal_id}", headers={"x-api-token": "j1"}).json()["data"]["name"] == "Journaled deal"
    entry = journal.entries("j1", path="/v1/deals")[0]
    assert (entry["method"], entry["path"], entry["body"]) == (
        "POST",
        "/v1/deals",
        {"name": "Journaled deal", "person_id": 1},
    )


def test_a_body_past_64_kb_is_journaled_as_text_cut_to_10_kb(journaled: tuple[TestClient, Journal]) -> None:
    client, journal = journaled
    body = json.dumps({"name": "Big", "person_id": 1, "padding": "x" * 70_000}).encode()
    client.post("/v1/deals", content=body, headers={"x-api-token": "j-big", "content-type": "application/json"})
    (kept,) = journal._tenants["j-big"]
    assert len(kept[journal_module.DETAILS].args[2]) == 10 * 1024  # held cut to size, not whole, until listed

    (entry,) = journal.entries("j-big")
    assert entry["body"] == body[: 10 * 1024].decode()


def test_an_entry_lists_the_same_whenever_it_is_first_listed(journaled: tuple[TestClient, Journal]) -> None:
    client, journal = journaled
    client.put("/v1/deals/1", json={"value": 5}, params={"api_token": "j-late"}, headers={"x-trace": "t1"})
    client.get("/v1/deals/1", headers={"x-api-token": "j-late"})
    first, second = journal.entries("j-late")  # details made now, after both requests

    assert list(first) == ["id", "time", "method", "path", "query", "headers", "body", "status", "duration_ms",
                           "tenant"]  # fmt: skip
    assert (first["query"], first["headers"]["x-trace"], first["body"]) == ({"api_token": "***"}, "t1", {"value": 5})
    assert (second["query"], second["body"], second["headers"]["x-api-token"]) == ({}, None, "***")
    assert journal.entries("j-late") == [first, second]


def test_status_and_duration_are_recorded(journaled: tuple[TestClient, Journal]) -> None:
    client, journal = journaled
    client.get("/v1/deals/999999", headers={"x-api-token": "j2"})
    (entry,) = journal.entries("j2")
    assert entry["status"] == 404
    assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] > 0


def test_journaled_headers_and_query_carry_no_token(journaled: tuple[TestClient, Journal]) -> None:
    client, journal = journaled
    client.get("/v1/deals", params={"api_token": "j3", "limit": "1"})
    client.get("/v1/deals", headers={"Authorization": "Bearer j3"})
    entries = journal.entries("j3")
    assert entries[0]["query"] == {"api_token": "***", "limit": "1"}
    assert entries[1]["headers"]["authorization"] == "***"
    assert not any("j3" in str((entry["query"], entry["headers"])) for entry in entries)


def test_a_request_without_a_token_is_journaled_as_anonymous(journaled: tuple[TestClient, Journal]) -> None:
    client, journal = journaled
    client.get("/v1/deals")
    (entry,) = journal.entries("")
    assert (entry["tenant"], entry["status"]) == ("", 401)


def test_the_control_plane_is_not_journaled(journaled: tuple[TestClient, Journal]) -> None:
    client, journal = journaled
    client.get("/__mock__/health", headers={"x-api-token": "j4"})
    assert journal.entries() == []


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An app that answers with the body it read, to show the journal hands the body on unchanged."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def failing_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    raise RuntimeError("boom")


def test_a_body_sent_in_chunks_reaches_the_app_whole() -> None:
    journal = Journal()
    incoming = [
        {"type": "http.request", "body": b'{"name": ', "more_body": True},
        {"type": "http.request", "body": b'"Chunked"}', "more_body": False},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"content-type", b"application/json")]
    scope = {"type": "http", "method": "POST", "path": "/v1/deals", "query_string": b"", "headers": headers}
    asyncio.run(JournalMiddleware(echo_app, journal)(scope, receive, send))
    assert sent[1]["body"] == b'{"name": "Chunked"}'
    assert journal.entries("")[0]["body"] == {"name": "Chunked"}


def test_an_app_failure_is_journaled_as_500_and_still_raised() -> None:
    journal = Journal()
    client = TestClient(JournalMiddleware(failing_app, journal))
    with pytest.raises(RuntimeError):
        client.get("/v1/deals")
    assert journal.entries("")[0]["status"] == 500
