"""`fintesk-mock proxy`: every exchange forwarded unchanged and checked; each planted bug named as a violation."""

from __future__ import annotations

import io
import json
import logging
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from contract_tests.proxy import VIOLATIONS_HEADER, Proxy, ProxyOptions
from contract_tests.recording import Recorder, resource_of
from contract_tests.runner import CheckOptions, run_check
from mock_server.app import create_app
from mock_server.data import fixtures
from mock_server.domain.collection import Record
from mock_server.domain.deals import Deals
from mock_server.settings import Settings
from tests.planted import (
    DropQuery,
    RewriteJSON,
    broken_pagination,
    dropped_field,
    serving,
    skipped_item,
    truncated_list,
    wrong_type,
)
from tests.server import free_port, running_server

TOKEN = "proxy-secret-token-1234"


def target_app() -> Any:
    return create_app(Settings(tokens=frozenset({TOKEN})))


@contextmanager
def proxied(target: str, **options: Any) -> Iterator[tuple[str, Proxy]]:
    """A proxy in front of `target` on a free loopback port: its API base and the proxy itself."""
    recorder = options.pop("recorder", None)
    proxy = Proxy(ProxyOptions(target, **options), recorder=recorder)
    with serving(proxy.app()) as base_url:
        yield base_url, proxy


def journal(base_url: str, **headers: str) -> list[dict[str, Any]]:
    response = httpx.get(base_url.removesuffix("/v1") + "/__mock__/requests", headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


def get(base_url: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(base_url + path, params=params, headers={"x-api-token": TOKEN}, timeout=120)


def violated(response: httpx.Response) -> set[str]:
    return set(filter(None, response.headers.get(VIOLATIONS_HEADER, "").split(", ")))


@pytest.fixture(scope="module")
def mock_target() -> Iterator[str]:
    """A plain mock, as users start it, in its own process."""
    with running_server("--tokens", TOKEN, "--log-level", "warning") as base_url:
        yield f"{base_url}/v1"


def test_the_harness_traffic_through_the_proxy_to_a_plain_mock_has_no_violation(
    mock_target: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="fintesk_mock")
    # A journal long enough to keep every exchange of the run, whatever the spec's number of operations.
    with proxied(mock_target, probe=True, journal_size=10_000) as (base_url, proxy):
        output = io.StringIO()
        options = CheckOptions(max_examples=3, seed=3, mode="positive", phases="examples,fuzzing,stateful")
        code = run_check(base_url, TOKEN, options, output=output)
        entries = journal(base_url)
    assert code == 0, output.getvalue()[-3000:]
    assert proxy.exchanges > 200
    assert {entry["operation"] for entry in entries} >= {"getDeals", "addDeal", "updateDeal", "searchItem"}
    # No answer violates the spec. The generator sends a few requests the spec does not allow (a filter condition
    # without its `object`, Schemathesis' probe of a path the API does not have): the proxy names each of them as
    # the request's violation, and the target refuses each one.
    lines = [record.getMessage() for record in caplog.records if record.name == "fintesk_mock.proxy"]
    assert all(re.search(r" 4\d\d: request violates ", line) for line in lines), lines
    assert set(proxy.violations) <= {"parameters", "body", "unknown_operation"}
    assert all(400 <= entry["status"] < 500 for entry in entries if entry["violations"])


def test_answers_pass_back_unchanged_and_the_token_is_never_journaled_or_logged(
    mock_target: str, caplog: pytest.LogCaptureFixture
) -> None:
    direct = get(mock_target, "/dealFields", limit=3)
    caplog.set_level(logging.INFO, logger="fintesk_mock")
    with proxied(mock_target) as (base_url, _):
        through = get(base_url, "/dealFields", limit=3)
        by_query = httpx.get(f"{base_url}/dealFields", params={"limit": 3, "api_token": TOKEN}, timeout=60)
        refused = httpx.get(f"{base_url}/dealFields", params={"api_token": "wrong-token-5678"}, timeout=60)
        entries = journal(base_url)
    assert through.status_code == by_query.status_code == 200
    assert through.content == by_query.content == direct.content
    assert through.headers["content-type"] == direct.headers["content-type"]
    assert refused.status_code == 401
    shown = json.dumps(entries) + caplog.text
    assert TOKEN not in shown and "wrong-token-5678" not in shown
    assert [entry["headers"].get("x-api-token") for entry in entries] == ["***", None, None]
    assert entries[1]["query"] == {"limit": "3", "api_token": "***"}
    assert entries[0]["tenant"].startswith("pro") and "…" in entries[0]["tenant"]


# Each planted bug, and the request that shows it: the proxy names the check that catches it.
PLANTED = [
    ("wrong type", lambda app: RewriteJSON(app, "GET", r"/v1/deals/\d+", wrong_type), "/deals/3", {},
     {"response_schema_conformance"}),
    ("dropped field", lambda app: RewriteJSON(app, "GET", r"/v1/deals", dropped_field), "/deals", {"limit": 5},
     {"response_schema_conformance"}),
    ("broken pagination", lambda app: RewriteJSON(app, "GET", r"/v1/deals", broken_pagination), "/deals",
     {"limit": 5}, {"fintesk_pagination"}),
    ("truncated list", lambda app: RewriteJSON(app, "GET", r"/v1/deals", truncated_list), "/deals", {"limit": 5},
     {"fintesk_pagination_complete"}),
    ("skipped item", lambda app: RewriteJSON(app, "GET", r"/v1/deals", skipped_item), "/deals",
     {"limit": 5, "start": 5}, {"fintesk_pagination_complete"}),
    ("ignored limit", lambda app: DropQuery(app, "limit"), "/deals", {"limit": 5}, {"fintesk_pagination_echo"}),
    ("ignored start", lambda app: DropQuery(app, "start"), "/deals", {"limit": 5, "start": 3},
     {"fintesk_pagination_echo"}),
]  # fmt: skip


@pytest.mark.parametrize(("wrap", "path", "params", "checks"), [case[1:] for case in PLANTED],
                         ids=[case[0] for case in PLANTED])  # fmt: skip
def test_each_planted_bug_is_named_as_a_violation(
    wrap: Any, path: str, params: dict[str, Any], checks: set[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="fintesk_mock")
    with serving(wrap(target_app())) as target, proxied(target, probe=True, violations_header=True) as (base, _):
        response = get(base, path, **params)
        entry = journal(base)[-1]
    assert response.status_code == 200
    assert checks <= violated(response)
    assert checks <= {violation["check"] for violation in entry["violations"]}
    assert all(violation["side"] == "response" for violation in entry["violations"])
    # The offending payload is journaled with the violation (parsed, or as text cut to 10 kB when it is big).
    answer = entry["answer"]
    assert answer["success"] is True if isinstance(answer, dict) else answer.startswith('{"success":true')
    assert all(check in caplog.text for check in checks)


def test_a_made_up_record_is_named_when_probing(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Deals.get

    def get_or_invent(self: Deals, deal_id: int) -> Record:
        return self.find(deal_id) or {**original(self, 1), "id": deal_id}

    monkeypatch.setattr(Deals, "get", get_or_invent)
    with serving(target_app()) as target, proxied(target, probe=True, violations_header=True) as (base_url, _):
        assert violated(get(base_url, "/deals/2")) == {"fintesk_unknown_id_is_404"}
    with serving(target_app()) as target, proxied(target, violations_header=True) as (base_url, _):
        # Without --probe the proxy sends nothing of its own: one exchange alone cannot show the lie.
        assert violated(get(base_url, "/deals/2")) == set()


def test_probes_are_off_by_default_so_the_target_sees_only_the_clients_requests(mock_target: str) -> None:
    planted = RewriteJSON(target_app(), "GET", r"/v1/deals", truncated_list)
    with serving(planted) as target, proxied(target, violations_header=True) as (base_url, _):
        response = get(base_url, "/deals", limit=5)
    assert response.status_code == 200 and violated(response) == set()


def test_a_request_the_spec_does_not_allow_is_a_request_violation(mock_target: str) -> None:
    with proxied(mock_target, violations_header=True) as (base_url, _):
        bad_query = get(base_url, "/deals", limit="lots")
        bad_body = httpx.post(f"{base_url}/deals", json={"name": 5}, headers={"x-api-token": TOKEN}, timeout=60)
        entries = journal(base_url)
    assert bad_query.status_code == 400 and violated(bad_query) == {"parameters"}
    assert "`limit`" in entries[0]["violations"][0]["message"]
    assert bad_body.status_code == 400 and violated(bad_body) == {"body"}
    assert entries[1]["violations"][0]["side"] == "request"
    assert entries[1]["body"] == {"name": 5}


def test_the_violations_header_is_opt_in_and_the_journal_names_them_either_way() -> None:
    planted = RewriteJSON(target_app(), "GET", r"/v1/deals/\d+", wrong_type)
    with serving(planted) as target, proxied(target) as (base_url, _):
        response = get(base_url, "/deals/3")
        entry = journal(base_url)[-1]
    assert response.status_code == 200 and VIOLATIONS_HEADER not in response.headers
    assert "response_schema_conformance" in {violation["check"] for violation in entry["violations"]}


def test_errors_answers_a_violating_exchange_with_a_502_naming_the_violation() -> None:
    planted = RewriteJSON(target_app(), "GET", r"/v1/deals/\d+", wrong_type)
    with serving(planted) as target, proxied(target, errors=True) as (base_url, _):
        violating = get(base_url, "/deals/3")
        fine = get(base_url, "/deals", limit=2)
    assert violating.status_code == 502
    body = violating.json()
    assert body["success"] is False and body["data"] is None
    assert "response_schema_conformance" in body["error"] and target in body["error"]
    assert body["violations"][0]["check"] == "response_schema_conformance"
    assert fine.status_code == 200 and fine.json()["success"] is True


def test_an_unreachable_target_is_a_502_naming_it_at_once() -> None:
    target = f"http://127.0.0.1:{free_port()}/v1"
    with proxied(target) as (base_url, _):
        started = time.monotonic()
        response = get(base_url, "/deals")
        entries = journal(base_url)
    assert time.monotonic() - started < 30
    assert response.status_code == 502
    assert response.json()["success"] is False and target in response.json()["error"]
    assert entries[0]["status"] == 502


def test_the_journal_needs_the_admin_token_when_one_is_set(mock_target: str) -> None:
    with proxied(mock_target, admin_token="admin-secret") as (base_url, _):
        get(base_url, "/currencies")
        refused = httpx.get(base_url.removesuffix("/v1") + "/__mock__/requests", timeout=60)
        listed = journal(base_url, **{"x-admin-token": "admin-secret"})
    assert refused.status_code == 401 and refused.json()["success"] is False
    assert [entry["path"] for entry in listed] == ["/v1/currencies"]


def test_resources_are_named_by_the_last_fixed_segment_of_the_path() -> None:
    assert resource_of("/deals/{id}") == resource_of("/deals") == "deals"
    assert resource_of("/deals/{id}/products") == "deal_products"
    assert resource_of("/deals/{id}/activities") == "activities"
    assert resource_of("/activityTypes/{id}") == "activity_types"
    assert resource_of("/deals/search") is None and resource_of("/deals/{id}/flow") is None


def test_record_folds_the_records_seen_into_a_fixture_folder_that_serves(mock_target: str, tmp_path: Path) -> None:
    out = tmp_path / "recorded"
    recorder = Recorder(out, "127.0.0.1", force=False)
    with proxied(mock_target, recorder=recorder) as (base_url, _):
        get(base_url, "/deals", limit=10)
        headers = {"x-api-token": TOKEN}
        renamed = httpx.put(f"{base_url}/deals/3", json={"name": "Renamed through the proxy"}, headers=headers)
        assert renamed.status_code == 200, renamed.text
        get(base_url, "/deals/3")
        get(base_url, "/activities", limit=5)
        get(base_url, "/dealFields")
        assert not out.exists()  # written when the proxy stops
    records = fixtures.load(out).records
    deals = {deal["id"]: deal for deal in records["deals"]}
    assert len(records["deals"]) == len(deals) == 10
    assert deals[3]["name"] == "Renamed through the proxy"
    assert len(records["activities"]) == 5 and records["deal_fields"]
    app = create_app(Settings(fixtures=out))
    with app.test_client() as client:
        served = client.get("/v1/deals/3", headers={"x-api-token": "any"})
    assert served.status_code == 200 and served.json()["data"]["name"] == "Renamed through the proxy"


def test_the_proxy_command_records_when_it_is_stopped(mock_target: str, tmp_path: Path) -> None:
    port, out = free_port(), tmp_path / "recorded"
    command = [sys.executable, "-m", "mock_server", "proxy", "--target", mock_target, "--port", str(port),
               "--record", str(out), "--violations-header"]  # fmt: skip
    with (tmp_path / "log").open("w+") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            base_url = f"http://127.0.0.1:{port}/v1"
            deadline = time.monotonic() + 120
            while True:
                assert process.poll() is None, (tmp_path / "log").read_text()
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/__mock__/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the proxy did not start"
                time.sleep(0.05)
            response = get(base_url, "/deals", limit=4, api_token=TOKEN)
            assert response.status_code == 200 and VIOLATIONS_HEADER not in response.headers
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        text = (tmp_path / "log").read_text()
    assert process.returncode in (0, -signal.SIGTERM), text  # uvicorn ends by the signal it was given
    assert TOKEN not in text
    assert "Recorded" in text
    assert len(fixtures.load(out).records["deals"]) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "ftp://example"], "--target must be an http(s) URL"),
        (["--target", "http://127.0.0.1:1/v1", "--host", "0.0.0.0"], "give --admin-token"),
    ],
)
def test_bad_options_are_one_line_errors_with_exit_code_2(args: list[str], message: str) -> None:
    result = subprocess.run([sys.executable, "-m", "mock_server", "proxy", *args], capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_record_refuses_a_folder_that_holds_files(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    command = [sys.executable, "-m", "mock_server", "proxy", "--target", "http://127.0.0.1:1/v1",
               "--record", str(tmp_path)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "is not empty" in result.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_a_body_over_the_limit_is_refused_without_reaching_the_target(mock_target: str) -> None:
    with proxied(mock_target, max_body_mb=1) as (base_url, proxy):
        body = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
        response = httpx.post(f"{base_url}/deals", content=body, headers={"x-api-token": TOKEN,
                              "content-type": "application/json"}, timeout=60)  # fmt: skip
    assert response.status_code == 413 and response.json()["success"] is False
    assert proxy.exchanges == 0


def test_the_proxy_refuses_a_host_it_does_not_serve_as_serve_does() -> None:
    """A web page rebound to the proxy's address cannot read the journal of real traffic through it."""
    app = Proxy(ProxyOptions("http://127.0.0.1:9/v1")).app()
    with TestClient(app) as client:
        refused = client.get("/__mock__/requests", headers={"host": "evil.example"})
    assert refused.status_code == 403
    assert "evil.example" in refused.json()["error"] and "--allowed-host" in refused.json()["error"]
    allowed = Proxy(ProxyOptions("http://127.0.0.1:9/v1", allowed_hosts=("evil.example",))).app()
    with TestClient(allowed) as client:
        assert client.get("/__mock__/requests", headers={"host": "evil.example"}).status_code == 200
