"""The request log: a line per /v1 request at info, without tokens, as text or as JSON lines."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from mock_server.app import create_app, masked_tenant
from mock_server.http.access_log import JsonLines, logging_config
from mock_server.http.tenant import mask_token
from mock_server.settings import Settings
from tests.server import free_port

TOKEN = "tenant-token-0123456789abcdef"


@pytest.fixture(scope="module")
def mock() -> Iterator[TestClient]:
    with create_app(Settings()).test_client() as client:
        yield client


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="fintesk_mock.access")
    return caplog


def requests_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "fintesk_mock.access"]


def test_a_request_is_one_line_with_method_path_status_time_and_masked_tenant(
    mock: TestClient, logged: pytest.LogCaptureFixture
) -> None:
    mock.get("/v1/deals", params={"limit": 1, "api_token": TOKEN})
    [record] = requests_logged(logged)
    line = record.getMessage()
    assert line.startswith("GET /v1/deals?limit=1 200 ")
    assert line.endswith(f"ms tenant={mask_token(TOKEN)}")
    assert TOKEN not in line and "api_token" not in line
    assert record.request["ms"] >= 0  # type: ignore[attr-defined]


def test_a_token_in_a_header_is_masked_too(mock: TestClient, logged: pytest.LogCaptureFixture) -> None:
    mock.get("/v1/currencies", headers={"authorization": f"Bearer {TOKEN}"})
    [record] = requests_logged(logged)
    assert TOKEN not in record.getMessage()
    assert record.request["tenant"] == mask_token(TOKEN)  # type: ignore[attr-defined]


def test_an_answer_made_outside_the_handlers_is_logged_with_its_status(
    mock: TestClient, logged: pytest.LogCaptureFixture
) -> None:
    mock.get("/v1/deals")
    mock.post("/__mock__/faults", json={"kind": "status", "status": 503, "tenant": "faulty", "times": 1})
    mock.get("/v1/deals", headers={"x-api-token": "faulty"})
    assert [record.request["status"] for record in requests_logged(logged)] == [401, 503]  # type: ignore[attr-defined]


def test_the_control_plane_is_not_logged(mock: TestClient, logged: pytest.LogCaptureFixture) -> None:
    mock.get("/__mock__/health")
    assert requests_logged(logged) == []


def test_below_info_nothing_is_logged(mock: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="fintesk_mock.access")
    mock.get("/v1/currencies", headers={"x-api-token": TOKEN})
    assert requests_logged(caplog) == []


def test_a_path_keeps_its_percent_encoding_so_a_line_stays_one_line(
    mock: TestClient, logged: pytest.LogCaptureFixture
) -> None:
    mock.get("/v1/deals%0Aforged 200", headers={"x-api-token": TOKEN})
    [record] = requests_logged(logged)
    assert "\n" not in record.getMessage()
    assert record.request["path"] == "/v1/deals%0Aforged%20200"  # type: ignore[attr-defined]


@pytest.mark.parametrize("token", ["short", TOKEN])
def test_the_logged_tenant_is_the_masked_token(token: str) -> None:
    scope = {"type": "http", "headers": [(b"x-api-token", token.encode())], "query_string": b""}
    assert masked_tenant(scope) == mask_token(token)
    assert token not in masked_tenant(scope)


def test_a_request_without_a_token_is_logged_as_a_dash(mock: TestClient, logged: pytest.LogCaptureFixture) -> None:
    mock.get("/v1/deals")
    [record] = requests_logged(logged)
    assert record.request["tenant"] == "-"  # type: ignore[attr-defined]


def test_json_lines_hold_the_requests_fields() -> None:
    record = logging.LogRecord("fintesk_mock.access", logging.INFO, __file__, 1, "GET /v1/deals 200", None, None)
    record.request = {"method": "GET", "path": "/v1/deals", "status": 200, "ms": 1.5, "tenant": "-"}
    line = json.loads(JsonLines().format(record))
    assert line["level"] == "info" and line["message"] == "GET /v1/deals 200"
    assert {key: line[key] for key in record.request} == record.request


def test_json_format_configures_the_json_formatter_and_turns_uvicorns_access_log_off() -> None:
    config = logging_config("info", "json")
    assert config["formatters"]["mock"]["()"] is JsonLines
    assert config["loggers"]["uvicorn.access"]["handlers"] == []
    assert config["loggers"]["fintesk_mock.access"]["level"] == "INFO"


def test_the_server_writes_json_lines_when_the_environment_asks(tmp_path: Path) -> None:
    """Started as users start it, with FINTESK_MOCK_LOG_FORMAT=json: stdout holds the request as a JSON object."""
    port = free_port()
    out = tmp_path / "stdout.log"
    env = {**os.environ, "FINTESK_MOCK_LOG_FORMAT": "json"}
    with out.open("wb") as stdout:
        process = subprocess.Popen(
            [sys.executable, "-m", "mock_server", "serve", "--port", str(port)],
            stdout=stdout, stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        try:
            lines = json_lines_after_a_request(f"http://127.0.0.1:{port}", out)
        finally:
            process.terminate()
            process.wait(timeout=30)
    [request] = [line for line in lines if line["logger"] == "fintesk_mock.access"]
    assert {key: request[key] for key in ("method", "path", "status", "tenant")} == {
        "method": "GET", "path": "/v1/currencies?term=eur", "status": 200, "tenant": mask_token(TOKEN)
    }  # fmt: skip
    assert TOKEN not in out.read_text(encoding="utf-8")


def json_lines_after_a_request(base_url: str, out: Path) -> list[dict[str, object]]:
    """Wait for the server to answer, send one request, then wait for its log line (deadlines, never fixed sleeps)."""
    deadline = time.monotonic() + 120
    while True:
        try:
            httpx.get(f"{base_url}/v1/currencies?term=eur&api_token={TOKEN}", timeout=5).raise_for_status()
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
    while '"fintesk_mock.access"' not in out.read_text(encoding="utf-8"):
        assert time.monotonic() < deadline, "the request was not logged"
        time.sleep(0.05)
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
