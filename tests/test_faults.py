"""Injected faults: which requests they match, and what each kind looks like to an HTTP client."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server.app import create_app
from mock_server.control.faults import ConnectionDropped, FaultMiddleware, Faults
from mock_server.errors import Invalid, NotFound
from mock_server.http.protocol import MockHttpProtocol
from mock_server.settings import Settings
from tests.server import free_port

TOKEN = ["token-a"]


def deals(_request: Request) -> JSONResponse:
    return JSONResponse({"success": True, "data": [{"id": number, "title": f"Deal {number}"} for number in range(20)]})


def health(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def tiny_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/v1/deals", deals, methods=["GET", "POST"]),
            Route("/v1/deals/{id}/products", deals),
            Route("/__mock__/health", health),
        ]
    )


@pytest.fixture
def faults() -> Faults:
    return Faults(seed=1)


@pytest.fixture
def client(faults: Faults) -> Iterator[TestClient]:
    with TestClient(FaultMiddleware(tiny_app(), faults)) as test_client:
        yield test_client


# --- matching -------------------------------------------------------------------------------------------------


def test_match__method_must_agree(faults: Faults) -> None:
    faults.add({"kind": "status", "method": "post"})
    assert faults.match("GET", "/v1/deals", TOKEN) is None
    assert faults.match("POST", "/v1/deals", TOKEN) is not None


def test_match__path_glob_spans_subpaths(faults: Faults) -> None:
    faults.add({"kind": "status", "path": "/v1/deals*"})
    assert faults.match("GET", "/v1/deals/7/products", TOKEN) is not None
    assert faults.match("GET", "/v1/activities", TOKEN) is None


def test_match__path_glob_with_inner_star(faults: Faults) -> None:
    faults.add({"kind": "status", "path": "/v1/deals/*/products"})
    assert faults.match("GET", "/v1/deals/7/products", TOKEN) is not None
    assert faults.match("GET", "/v1/deals/7", TOKEN) is None


def test_match__tenant_limits_to_requests_with_its_token(faults: Faults) -> None:
    faults.add({"kind": "status", "tenant": "token-b"})
    assert faults.match("GET", "/v1/deals", ["token-a"]) is None
    assert faults.match("GET", "/v1/deals", ["token-b"]) is not None


def test_match__never_outside_v1(faults: Faults) -> None:
    faults.add({"kind": "status"})
    assert faults.match("GET", "/__mock__/faults", TOKEN) is None
    assert faults.match("GET", "/v1x", TOKEN) is None


def test_match__first_added_wins(faults: Faults) -> None:
    first = faults.add({"kind": "status", "status": 503})
    faults.add({"kind": "status", "status": 502})
    assert faults.match("GET", "/v1/deals", TOKEN) == first


def test_match__without_times_applies_until_cleared(faults: Faults) -> None:
    faults.add({"kind": "status"})
    assert all(faults.match("GET", "/v1/deals", TOKEN) for _ in range(50))
    faults.clear()
    assert faults.match("GET", "/v1/deals", TOKEN) is None


def test_times__counts_down_then_the_fault_is_gone(faults: Faults) -> None:
    fault = faults.add({"kind": "status", "times": 2})
    assert faults.match("GET", "/v1/deals", TOKEN) == replace(fault, times=1)
    assert faults.list() == [replace(fault, times=1)]
    assert faults.match("GET", "/v1/deals", TOKEN) == replace(fault, times=0)
    assert faults.list() == []
    assert faults.match("GET", "/v1/deals", TOKEN) is None


def test_times__requests_that_do_not_match_use_none_up(faults: Faults) -> None:
    faults.add({"kind": "status", "method": "POST", "times": 1})
    faults.match("GET", "/v1/deals", TOKEN)
    assert faults.match("POST", "/v1/deals", TOKEN) is not None


def test_spent_fault_lets_the_next_one_apply(faults: Faults) -> None:
    faults.add({"kind": "status", "status": 503, "times": 1})
    faults.add({"kind": "status", "status": 502})
    statuses = [faults.match("GET", "/v1/deals", TOKEN).status for _ in range(3)]  # type: ignore[union-attr]
    assert statuses == [503, 502, 502]


def _hits(seed: int, probability: float, requests: int = 1000) -> list[bool]:
    faults = Faults(seed=seed)
    faults.add({"kind": "status", "probability": probability})
    return [faults.match("GET", "/v1/deals", TOKEN) is not None for _ in range(requests)]


def test_probability__same_seed_same_faults() -> None:
    assert _hits(seed=42, probability=0.3) == _hits(seed=42, probability=0.3)


def test_probability__other_seed_other_faults() -> None:
    assert _hits(seed=42, probability=0.3) != _hits(seed=43, probability=0.3)


def test_probability__roughly_proportional() -> None:
    assert 250 <= sum(_hits(seed=7, probability=0.3)) <= 350


def test_reseed__replays_the_same_faults(faults: Faults) -> None:
    faults.add({"kind": "status", "probability": 0.5})
    faults.reseed(9)
    first = [faults.match("GET", "/v1/deals", TOKEN) is not None for _ in range(100)]
    faults.reseed(9)
    assert [faults.match("GET", "/v1/deals", TOKEN) is not None for _ in range(100)] == first


def test_list__gives_copies(faults: Faults) -> None:
    faults.add({"kind": "status", "times": 1})
    faults.list()[0].times = 5
    assert faults.list()[0].times == 1


def test_remove__takes_one_fault_out(faults: Faults) -> None:
    kept = faults.add({"kind": "status", "status": 502})
    removed = faults.add({"kind": "status", "status": 503})
    faults.remove(removed.id)
    assert faults.list() == [kept]


def test_remove__unknown_id_is_not_found(faults: Faults) -> None:
    with pytest.raises(NotFound, match="Fault 99 does not exist"):
        faults.remove(99)


def test_ids_keep_rising_after_clear(faults: Faults) -> None:
    first = faults.add({"kind": "status"})
    faults.clear()
    assert faults.add({"kind": "status"}).id == first.id + 1


def test_to_dict__adds_back_as_the_same_fault(faults: Faults) -> None:
    fault = faults.add({"kind": "status", "status": 403, "code": "feature_capping_deals_limit", "times": 3})
    again = faults.add(fault.to_dict())
    assert {**again.to_dict(), "id": fault.id} == fault.to_dict()


def test_add__fills_defaults(faults: Faults) -> None:
    assert faults.add({"kind": "truncate"}).to_dict() == {
        "id": 1,
        "kind": "truncate",
        "method": "*",
        "path": "*",
        "tenant": None,
        "status": 500,
        "code": None,
        "message": None,
        "delay_ms": 0,
        "times": None,
        "probability": None,
    }


def test_add__non_json_defaults_to_502(faults: Faults) -> None:
    assert faults.add({"kind": "non_json"}).status == 502


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"kind": "explode"}, "'kind'"),
        ({}, "'kind'"),
        ({"kind": "status", "method": "FETCH"}, "'method'"),
        ({"kind": "status", "path": "/deals"}, "'path'"),
        ({"kind": "status", "path": "/__mock__/faults"}, "'path'"),
        ({"kind": "status", "status": 200}, "'status'"),
        ({"kind": "status", "status": "503"}, "'status'"),
        ({"kind": "status", "tenant": ""}, "'tenant'"),
        ({"kind": "status", "code": 7}, "'code'"),
        ({"kind": "delay"}, "'delay_ms'"),
        ({"kind": "delay", "delay_ms": -1}, "'delay_ms'"),
        ({"kind": "status", "times": 0}, "'times'"),
        ({"kind": "status", "times": True}, "'times'"),
        ({"kind": "status", "probability": 1.5}, "'probability'"),
        ({"kind": "status", "probability": 0}, "'probability'"),
        ({"kind": "status", "times": 1, "probability": 0.5}, "'times' and 'probability'"),
        ({"kind": "status", "retries": 1}, "'retries'"),
    ],
)
def test_add__invalid_spec_names_the_field(faults: Faults, spec: dict[str, Any], field: str) -> None:
    with pytest.raises(Invalid, match=field):
        faults.add(spec)
    assert faults.list() == []


# --- each kind, seen from a client ------------------------------------------------------------------------------


def test_status__answers_the_fintesk_error_envelope(faults: Faults, client: TestClient) -> None:
    faults.add({"kind": "status", "status": 503, "method": "POST", "path": "/v1/deals"})
    response = client.post("/v1/deals", json={"title": "x"})
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "success": False,
        "error": "Service temporarily unavailable.",
        "error_info": "Please check developers' documentation for more information.",
        "data": None,
        "additional_data": None,
    }


def test_status__403_carries_the_code_and_message(faults: Faults, client: TestClient) -> None:
    faults.add(
        {"kind": "status", "status": 403, "code": "feature_capping_deals_limit", "message": "Deal limit reached"}
    )
    body = client.get("/v1/deals").json()
    assert body["code"] == "feature_capping_deals_limit"
    assert body["error"] == "Deal limit reached"


def test_status__429_says_when_to_retry(faults: Faults, client: TestClient) -> None:
    faults.add({"kind": "status", "status": 429})
    response = client.get("/v1/deals")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"


def test_status__401_uses_the_short_body(faults: Faults, client: TestClient) -> None:
    faults.add({"kind": "status", "status": 401})
    response = client.get("/v1/deals")
    assert response.status_code == 401
    assert response.json() == {"success": False, "error": "unauthorized access", "errorCode": 401}


def test_status__only_the_next_n_requests(faults: Faults, client: TestClient) -> None:
    faults.add({"kind": "status", "status": 500, "times": 2})
    assert [client.get("/v1/deals").status_code for _ in range(3)] == [500, 500, 200]


def test_status__tenant_fault_spares_other_tokens(faults: Faults, client: TestClient) -> None:
    faults.add({"kind": "status", "tenant": "token-b"})
    assert client.get("/v1/deals", headers={"x-api-token": "token-a"}).status_code == 200
    assert client.get("/v1/deals", params={"api_token": "token-b"}).status_code == 500


def test_delay__holds_the_request_then_answers(faults: Faults, client: TestClient) -> None:
    faults.add({"kind": "delay", "delay_ms": 200})
    started = time.monotonic()
    response = client.get("/v1/deals")
    assert time.monotonic() - started >= 0.18
    assert response.status_code == 200 and response.json()["success"] is True


def test_delay__with_a_status_delays_the_error(faults: Faults, client: TestClient) -> None:
    faults.add({"kind": "status", "status": 504, "delay_ms": 200})
    started = time.monotonic()
    assert client.get("/v1/deals").status_code == 504
    assert time.monotonic() - started >= 0.18


def test_truncate__body_is_half_a_json_document(faults: Faults, client: TestClient) -> None:
    full = client.get("/v1/deals").content
    faults.add({"kind": "truncate"})
    response = client.get("/v1/deals")
    assert response.status_code == 200
    assert response.content == full[: len(full) // 2]
    assert response.headers["content-length"] == str(len(full) // 2)
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_non_json__answers_a_proxy_error_page(faults: Faults, client: TestClient) -> None:
    faults.add({"kind": "non_json"})
    response = client.get("/v1/deals")
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in response.text
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_non_json__with_a_status(faults: Faults, client: TestClient) -> None:
    faults.add({"kind": "non_json", "status": 503})
    response = client.get("/v1/deals")
    assert response.status_code == 503
    assert "503 Service Unavailable" in response.text


def test_control_plane_is_never_faulted(faults: Faults, client: TestClient) -> None:
    faults.add({"kind": "status", "path": "*"})
    response = client.get("/__mock__/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_mock_app__fault_answers_before_the_api(faults: Faults) -> None:
    faults.add({"kind": "status", "status": 410, "path": "/v1/deals/*"})
    with TestClient(FaultMiddleware(create_app(Settings()), faults)) as mock:
        headers = {"x-api-token": "faulted"}
        assert mock.get("/v1/deals/1", headers=headers).status_code == 410
        assert mock.get("/v1/deals", headers=headers).status_code == 200


def test_mock_app__truncated_deal_list(faults: Faults) -> None:
    faults.add({"kind": "truncate", "path": "/v1/deals"})
    with TestClient(FaultMiddleware(create_app(Settings()), faults)) as mock:
        response = mock.get("/v1/deals", headers={"x-api-token": "faulted"})
    with pytest.raises(json.JSONDecodeError):
        response.json()


# --- dropped connections, against a real server -----------------------------------------------------------------


@contextmanager
def serving(app: ASGIApp, http: Any) -> Iterator[str]:
    """Run `app` under uvicorn in a thread; yield its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=http, log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 300
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def outermost(faults: Faults) -> ASGIApp:
    return FaultMiddleware(tiny_app(), faults)


def behind_middleware(faults: Faults) -> ASGIApp:
    """Inside middleware that wrap `send`, as the mock's own middleware stack does."""
    return ServerErrorMiddleware(HeaderMiddleware(ServerErrorMiddleware(FaultMiddleware(tiny_app(), faults))))


class HeaderMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"x-extra", b"1")]}
            await send(message)

        await self.app(scope, receive, send_with_header)


def unrecognisable_send(faults: Faults) -> ASGIApp:
    """Where the server's transport cannot be found, uvicorn still closes the connection unanswered."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        # A send the drop cannot see through: a bound method of an object without a transport.
        await FaultMiddleware(tiny_app(), faults)(scope, receive, _Relay(send).send)

    return app


class _Relay:
    def __init__(self, send: Send) -> None:
        self.targets = [send]

    async def send(self, message: Message) -> None:
        await self.targets[0](message)


@pytest.mark.parametrize("http", ["h11", "httptools", MockHttpProtocol])
@pytest.mark.parametrize("placement", [outermost, behind_middleware, unrecognisable_send])
def test_drop__client_sees_the_connection_close_without_an_answer(faults: Faults, http: Any, placement: Any) -> None:
    faults.add({"kind": "drop", "path": "/v1/deals", "times": 1})
    with serving(placement(faults), http) as base_url:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            httpx.get(f"{base_url}/v1/deals", timeout=60)
        assert httpx.get(f"{base_url}/v1/deals", timeout=60).status_code == 200


def test_drop__in_process_client_sees_an_error(faults: Faults, client: TestClient) -> None:
    faults.add({"kind": "drop"})
    with pytest.raises(ConnectionDropped):
        client.get("/v1/deals")
