"""`mock_server.intercept()`: requests, httpx and urllib3 calls to Fintesk URLs answered by the app in this process."""

from __future__ import annotations

import asyncio
import http.server
import itertools
import json
import threading
from collections.abc import Iterator

import httpx
import pytest
import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool

import mock_server
from contract_tests.plugin import FinteskIntercept
from mock_server.interception import Base, Blocked, intercept

API = "https://api.fintesk.com/v1"
COMPANY = "https://acme.fintesk.com/api/v1"
_tokens = itertools.count(1)
# A delay no client waits out here: the clients below give up after a fraction of a second.
LONG_DELAY_MS = 120_000


@pytest.fixture
def token() -> str:
    return f"intercept-test-{next(_tokens)}"


@pytest.fixture
def active() -> Iterator[intercept]:
    with intercept() as interception:
        yield interception


def test_the_package_exports_intercept() -> None:
    assert mock_server.intercept is intercept


def test_requests_reaches_the_mock_at_the_production_url(active: intercept, token: str) -> None:
    response = requests.get(f"{API}/deals", params={"limit": 2}, headers={"x-api-token": token}, timeout=60)
    assert response.status_code == 200
    assert response.json()["success"] is True
    assert len(response.json()["data"]) == 2


def test_httpx_reaches_the_mock_at_a_company_url(active: intercept, token: str) -> None:
    response = httpx.get(f"{COMPANY}/deals/1", headers={"x-api-token": token})
    assert response.status_code == 200
    assert response.json()["data"]["id"] == 1


def test_async_httpx_reaches_the_mock(active: intercept, token: str) -> None:
    async def fetch() -> httpx.Response:
        async with httpx.AsyncClient(headers={"x-api-token": token}) as client:
            return await client.get(f"{API}/deals/1")

    assert asyncio.run(fetch()).json()["data"]["id"] == 1


def test_concurrent_async_requests_are_all_answered(active: intercept, token: str) -> None:
    ids = [deal["id"] for deal in httpx.get(f"{API}/deals?limit=20", headers={"x-api-token": token}).json()["data"]]

    async def fetch_many() -> list[int]:
        async with httpx.AsyncClient(headers={"x-api-token": token}) as client:
            answers = await asyncio.gather(*(client.get(f"{API}/deals/{deal_id}") for deal_id in ids))
        return [answer.json()["data"]["id"] for answer in answers]

    assert len(ids) == 20
    assert asyncio.run(fetch_many()) == ids


def test_urllib3_reaches_the_mock_with_the_token_in_the_query(active: intercept, token: str) -> None:
    response = urllib3.request("GET", f"{API}/deals/1?api_token={token}")
    assert response.status == 200
    assert response.json()["data"]["id"] == 1


def test_the_token_picks_the_tenant(active: intercept, token: str) -> None:
    created = requests.post(
        f"{API}/deals", json={"name": "Mine", "person_id": 1}, headers={"x-api-token": token}, timeout=60
    )
    deal_id = created.json()["data"]["id"]
    assert requests.get(f"{API}/deals/{deal_id}", headers={"x-api-token": token}, timeout=60).status_code == 200
    other = requests.get(f"{API}/deals/{deal_id}", headers={"x-api-token": token + "-other"}, timeout=60)
    assert other.status_code == 404


def test_validation_answers_in_the_fintesk_envelope(active: intercept, token: str) -> None:
    response = requests.post(f"{API}/deals", json={"value": "lots"}, headers={"x-api-token": token}, timeout=60)
    assert response.status_code == 400
    assert response.json()["success"] is False
    assert "value" in response.json()["error"]


def test_a_request_without_a_token_is_401(active: intercept) -> None:
    response = httpx.get(f"{API}/deals")
    assert response.status_code == 401
    assert response.json()["success"] is False


def test_the_journal_records_what_the_code_sent(active: intercept, token: str) -> None:
    requests.get(f"{COMPANY}/deals", params={"limit": 1}, headers={"x-api-token": token}, timeout=60)
    [entry] = active.control.requests(token=token)
    assert (entry["method"], entry["path"], entry["query"]) == ("GET", "/v1/deals", {"limit": "1"})


def test_the_tenant_clock_stamps_writes(active: intercept, token: str) -> None:
    active.control.freeze("2024-03-01 10:00:00", token=token)
    deal = httpx.post(f"{API}/deals", json={"name": "Dated", "person_id": 1}, headers={"x-api-token": token}).json()[
        "data"
    ]
    assert deal["add_time"] == "2024-03-01 10:00:00"


def test_rate_limits_apply(active: intercept, token: str) -> None:
    active.control.set_rate_limit(2, token=token)
    statuses = [httpx.get(f"{API}/deals/1", headers={"x-api-token": token}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


# --- faults surface as each library's own errors


def test_a_dropped_connection_is_a_requests_connection_error(active: intercept, token: str) -> None:
    active.control.inject("drop", "GET /v1/deals/1", tenant=token, times=1)
    with pytest.raises(requests.ConnectionError, match="Remote end closed connection"):
        requests.get(f"{API}/deals/1", headers={"x-api-token": token}, timeout=60)


def test_a_dropped_connection_is_an_httpx_remote_protocol_error(active: intercept, token: str) -> None:
    active.control.inject("drop", "GET /v1/deals/1", tenant=token, times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{API}/deals/1", headers={"x-api-token": token})


def test_a_dropped_connection_is_an_async_httpx_remote_protocol_error(active: intercept, token: str) -> None:
    active.control.inject("drop", "GET /v1/deals/1", tenant=token, times=1)

    async def fetch() -> None:
        async with httpx.AsyncClient() as client:
            await client.get(f"{API}/deals/1", headers={"x-api-token": token})

    with pytest.raises(httpx.RemoteProtocolError):
        asyncio.run(fetch())


def test_a_dropped_connection_is_a_urllib3_protocol_error(active: intercept, token: str) -> None:
    active.control.inject("drop", "GET /v1/deals/1", tenant=token, times=1)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        urllib3.request("GET", f"{API}/deals/1", headers={"x-api-token": token}, retries=False)


def test_a_delay_past_the_timeout_is_a_requests_read_timeout(active: intercept, token: str) -> None:
    active.control.inject("delay", "GET /v1/deals/1", tenant=token, times=1, delay_ms=LONG_DELAY_MS)
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{API}/deals/1", headers={"x-api-token": token}, timeout=0.2)


def test_a_delay_past_the_timeout_is_an_httpx_read_timeout(active: intercept, token: str) -> None:
    active.control.inject("delay", "GET /v1/deals/1", tenant=token, times=1, delay_ms=LONG_DELAY_MS)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{API}/deals/1", headers={"x-api-token": token}, timeout=0.2)


def test_a_delay_past_the_timeout_is_an_async_httpx_read_timeout(active: intercept, token: str) -> None:
    active.control.inject("delay", "GET /v1/deals/1", tenant=token, times=1, delay_ms=LONG_DELAY_MS)

    async def fetch() -> None:
        async with httpx.AsyncClient(timeout=0.2) as client:
            await client.get(f"{API}/deals/1", headers={"x-api-token": token})

    with pytest.raises(httpx.ReadTimeout):
        asyncio.run(fetch())


def test_a_delay_within_the_timeout_answers(active: intercept, token: str) -> None:
    active.control.inject("delay", "GET /v1/deals/1", tenant=token, times=1, delay_ms=20)
    response = requests.get(f"{API}/deals/1", headers={"x-api-token": token}, timeout=60)
    assert response.json()["data"]["id"] == 1


def test_a_truncated_body_fails_to_decode(active: intercept, token: str) -> None:
    active.control.inject("truncate", "GET /v1/deals/1", tenant=token, times=2)
    with pytest.raises(requests.JSONDecodeError):
        requests.get(f"{API}/deals/1", headers={"x-api-token": token}, timeout=60).json()
    with pytest.raises(json.JSONDecodeError):
        httpx.get(f"{API}/deals/1", headers={"x-api-token": token}).json()


def test_a_mounted_adapters_retries_are_honoured(active: intercept, token: str) -> None:
    active.control.fail_next("GET /v1/deals/1", status=503, times=2, tenant=token)
    session = requests.Session()
    session.mount("https://", HTTPAdapter(max_retries=urllib3.Retry(total=3, status_forcelist=[503])))
    assert session.get(f"{API}/deals/1", headers={"x-api-token": token}, timeout=60).status_code == 200
    assert len(active.control.requests(token=token)) == 3


# --- what is intercepted


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        body = b"from the loopback server"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def loopback_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/deals"
    server.shutdown()
    thread.join(timeout=60)


def test_other_urls_pass_through(active: intercept, loopback_url: str) -> None:
    assert requests.get(loopback_url, timeout=60).text == "from the loopback server"
    assert httpx.get(loopback_url).text == "from the loopback server"
    assert urllib3.request("GET", loopback_url).data == b"from the loopback server"


def test_block_others_refuses_other_urls_with_a_clear_error(loopback_url: str) -> None:
    with intercept(block_others=True):
        with pytest.raises(requests.ConnectionError, match="block_others=True"):
            requests.get(loopback_url, timeout=60)
        with pytest.raises(httpx.ConnectError, match=r"name this URL's base in intercept\(bases="):
            httpx.get(loopback_url)
        with pytest.raises(Blocked, match="https://api.fintesk.com"):
            urllib3.request("GET", loopback_url)


def test_named_bases_replace_the_default_ones(loopback_url: str, token: str) -> None:
    base = loopback_url.removesuffix("/v1/deals")
    # block_others keeps the default bases, no longer intercepted, from going out to the network.
    with intercept(bases=[base], block_others=True):
        assert httpx.get(f"{base}/v1/deals/1", headers={"x-api-token": token}).json()["data"]["id"] == 1
        with pytest.raises(requests.ConnectionError, match="block_others"):
            requests.get(f"{API}/deals/1", timeout=60)


def test_bases_match_scheme_host_port_and_path() -> None:
    company = Base.parse("https://*.fintesk.com/api")
    assert company.covers("https", "Acme.Fintesk.com", None, "/api/v1/deals")
    assert company.covers("https", "acme.fintesk.com", 443, "/api")
    assert not company.covers("https", "acme.fintesk.com", None, "/apiv1")
    assert not company.covers("http", "acme.fintesk.com", None, "/api/v1")
    assert not company.covers("https", "acme.fintesk.com", 8443, "/api/v1")
    assert not company.covers("https", "fintesk.com.example", None, "/api/v1")


def test_a_base_that_is_not_a_url_is_refused() -> None:
    with pytest.raises(ValueError, match="scheme://host"):
        intercept(bases=["api.fintesk.com"])


# --- activation


def test_leaving_restores_the_libraries() -> None:
    originals = (httpx.HTTPTransport.handle_request, httpx.AsyncHTTPTransport.handle_async_request,
                 HTTPConnectionPool.urlopen)  # fmt: skip
    with intercept(), intercept(bases=["https://crm.example.test"]):
        assert httpx.HTTPTransport.handle_request is not originals[0]
    assert (httpx.HTTPTransport.handle_request, httpx.AsyncHTTPTransport.handle_async_request,
            HTTPConnectionPool.urlopen) == originals  # fmt: skip


def test_nested_intercepts_each_answer_their_bases(token: str) -> None:
    with intercept(), intercept(bases=["https://crm.example.test"]):
        assert httpx.get("https://crm.example.test/v1/deals/1", headers={"x-api-token": token}).status_code == 200
        assert httpx.get(f"{API}/deals/1", headers={"x-api-token": token}).status_code == 200


@intercept()
def _decorated(token: str) -> int:
    return requests.get(f"{API}/deals/1", headers={"x-api-token": token}, timeout=60).status_code


@intercept()
async def _decorated_async(token: str) -> int:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"{API}/deals/1", headers={"x-api-token": token})).status_code


def test_as_a_decorator_each_call_is_intercepted(token: str) -> None:
    assert [_decorated(token), _decorated(token)] == [200, 200]
    assert HTTPConnectionPool.urlopen.__module__ == "urllib3.connectionpool"


def test_as_a_decorator_of_a_coroutine_function(token: str) -> None:
    assert asyncio.run(_decorated_async(token)) == 200
    assert httpx.AsyncHTTPTransport.handle_async_request.__module__ == "httpx._transports.default"


def test_async_with_intercepts(token: str) -> None:
    async def fetch() -> int:
        async with intercept(), httpx.AsyncClient() as client:
            return (await client.get(f"{API}/deals/1", headers={"x-api-token": token})).status_code

    assert asyncio.run(fetch()) == 200


def test_the_control_needs_an_active_intercept() -> None:
    with pytest.raises(RuntimeError, match="not active"):
        _ = intercept().control


# --- the pytest fixture


def test_fixture_gives_a_fresh_token_and_the_helpers(fintesk_intercept: FinteskIntercept) -> None:
    assert fintesk_intercept.base_url == API
    fintesk_intercept.freeze("2024-05-01 08:00:00")
    with fintesk_intercept.client() as client:
        deal = client.post("/deals", json={"name": "From the fixture", "person_id": 1}).json()["data"]
    assert deal["add_time"] == "2024-05-01 08:00:00"
    assert [entry["path"] for entry in fintesk_intercept.requests()] == ["/v1/deals"]


def test_fixture_fail_next_hits_the_code_under_test(fintesk_intercept: FinteskIntercept) -> None:
    fintesk_intercept.fail_next("GET /v1/deals", status=503)
    headers = {"x-api-token": fintesk_intercept.token}
    assert requests.get(f"{API}/deals", headers=headers, timeout=60).status_code == 503
    assert requests.get(f"{API}/deals", headers=headers, timeout=60).status_code == 200


def test_fixture_use_token_starts_the_code_s_own_tenant_afresh(fintesk_intercept: FinteskIntercept) -> None:
    headers = {"x-api-token": "production-token"}
    created = requests.post(
        f"{API}/deals", json={"name": "Left over", "person_id": 1}, headers=headers, timeout=60
    ).json()["data"]
    fintesk_intercept.use_token("production-token")
    assert requests.get(f"{API}/deals/{created['id']}", headers=headers, timeout=60).status_code == 404


def test_fixture_use_token_points_the_helpers_at_that_token(fintesk_intercept: FinteskIntercept) -> None:
    fintesk_intercept.use_token("production-token")
    fintesk_intercept.freeze("2023-07-01 12:00:00")
    headers = {"x-api-token": "production-token"}
    deal = requests.post(f"{API}/deals", json={"name": "Stamped", "person_id": 1}, headers=headers, timeout=60).json()[
        "data"
    ]
    assert deal["add_time"] == "2023-07-01 12:00:00"


@pytest.mark.fintesk_intercept(bases=["https://crm.example.test"], block_others=True)
def test_fixture_marker_names_the_bases(fintesk_intercept: FinteskIntercept) -> None:
    headers = {"x-api-token": fintesk_intercept.token}
    assert httpx.get("https://crm.example.test/v1/deals/1", headers=headers).status_code == 200
    with pytest.raises(httpx.ConnectError, match="block_others"):
        httpx.get(f"{API}/deals/1", headers=headers)
