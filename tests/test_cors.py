"""CORS: browsers may call /v1 and its docs from other origins, unless turned off or limited to some origins."""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.cli import main
from mock_server.settings import Settings, parse_origins
from tests.conftest import assert_error
from tests.server import running_server

PAGE_ORIGIN = "http://127.0.0.1:9"
PREFLIGHT = {"origin": PAGE_ORIGIN, "access-control-request-method": "POST",
             "access-control-request-headers": "x-api-token, content-type"}  # fmt: skip


def app_client(**settings: Any) -> TestClient:
    return create_app(Settings(**settings)).test_client()


@pytest.fixture(scope="module")
def mock() -> Iterator[TestClient]:
    with app_client() as client:
        yield client


@pytest.mark.parametrize("path", ["/v1/deals", "/v1/deals/1", "/v1/docs/", "/v1/openapi.json"])
def test_a_preflight_on_the_api_and_its_docs_answers_204(mock: TestClient, path: str) -> None:
    response = mock.options(path, headers=PREFLIGHT)
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["access-control-allow-origin"] == "*"
    assert {"GET", "POST", "PUT", "PATCH", "DELETE"} <= set(
        response.headers["access-control-allow-methods"].split(", ")
    )
    allowed = set(response.headers["access-control-allow-headers"].split(", "))
    assert {"x-api-token", "authorization", "content-type"} <= allowed


def test_answers_carry_the_allowed_origin(mock: TestClient) -> None:
    response = mock.get("/v1/deals", params={"limit": 1}, headers={"origin": PAGE_ORIGIN, "x-api-token": "page"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "x-ratelimit-remaining" in response.headers["access-control-expose-headers"]


def test_an_error_answer_carries_the_allowed_origin_too(mock: TestClient) -> None:
    response = mock.get("/v1/deals", headers={"origin": PAGE_ORIGIN})
    assert_error(response, 401)
    assert response.headers["access-control-allow-origin"] == "*"


def test_the_control_plane_stays_same_origin(mock: TestClient) -> None:
    assert "access-control-allow-origin" not in mock.get("/__mock__/health", headers={"origin": PAGE_ORIGIN}).headers
    assert mock.options("/__mock__/reset", headers=PREFLIGHT).status_code == 405


def test_a_preflight_asking_for_another_header_is_400_naming_it(mock: TestClient) -> None:
    response = mock.options("/v1/deals", headers={**PREFLIGHT, "access-control-request-headers": "x-secret"})
    assert_error(response, 400, "headers", "x-api-token")


def test_no_cors_refuses_preflights_and_adds_no_header() -> None:
    with app_client(cors=False) as client:
        assert client.options("/v1/deals", headers=PREFLIGHT).status_code == 405
        answer = client.get("/v1/currencies", headers={"origin": PAGE_ORIGIN, "x-api-token": "page"})
        assert "access-control-allow-origin" not in answer.headers


def test_cors_origins_allow_only_those_origins() -> None:
    with app_client(cors_origins=("http://localhost:3000",)) as client:
        allowed = client.options("/v1/deals", headers={**PREFLIGHT, "origin": "http://localhost:3000"})
        assert (allowed.status_code, allowed.headers["access-control-allow-origin"]) == (204, "http://localhost:3000")
        assert_error(client.options("/v1/deals", headers=PREFLIGHT), 400, "origin", PAGE_ORIGIN)
        other = client.get("/v1/currencies", headers={"origin": PAGE_ORIGIN, "x-api-token": "page"})
        assert "access-control-allow-origin" not in other.headers


def test_origins_are_parsed_from_repeats_and_commas() -> None:
    assert parse_origins(["http://a.test:3000, https://b.test/", "http://c.test"]) == (
        "http://a.test:3000", "https://b.test", "http://c.test"
    )  # fmt: skip
    assert parse_origins([]) == ("*",)


@pytest.mark.parametrize("origin", ["a.test", "ftp://a.test", "http://a.test/page"])
def test_a_value_that_is_no_origin_is_refused_naming_it(origin: str) -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        parse_origins([origin])


def test_cors_is_set_by_flags_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[Settings] = []
    monkeypatch.setattr("mock_server.cli.run_server", lambda app, **_: served.append(app.state["settings"]))
    runner = CliRunner()
    assert runner.invoke(main, ["serve"], env={"FINTESK_MOCK_CORS": "false"}).exit_code == 0
    env = {"FINTESK_MOCK_CORS_ORIGIN": "http://a.test http://b.test"}
    assert runner.invoke(main, ["serve"], env=env).exit_code == 0
    refused = runner.invoke(main, ["serve", "--cors-origin", "a.test"])
    assert refused.exit_code == 2 and "--cors-origin" in refused.output
    assert [(settings.cors, settings.cors_origins) for settings in served] == [
        (False, ("*",)), (True, ("http://a.test", "http://b.test"))
    ]  # fmt: skip


PAGE = """<!doctype html>
<html><body><pre id="out">waiting</pre>
<script>
fetch("{api}/deals?limit=2", {{headers: {{"x-api-token": "browser-token"}}}})
  .then(response => response.json())
  .then(body => {{ document.getElementById("out").textContent = "DEALS:" + body.data.map(d => d.id).join(","); }})
  .catch(error => {{ document.getElementById("out").textContent = "FAILED:" + error; }});
</script></body></html>
"""


def test_a_page_from_another_port_reads_deals_in_headless_chromium(tmp_path: Path) -> None:
    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("no chromium on PATH: the browser check needs Debian's `chromium` package")
    with running_server("--log-level", "warning") as base_url:
        (tmp_path / "page.html").write_text(PAGE.format(api=f"{base_url}/v1"), encoding="utf-8")
        handler = functools.partial(QuietHandler, directory=str(tmp_path))
        with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as pages:
            threading.Thread(target=pages.serve_forever, daemon=True).start()
            try:
                dom = dump_dom(browser, f"http://127.0.0.1:{pages.server_address[1]}/page.html")
            finally:
                pages.shutdown()
    shown = re.search(r'<pre id="out">([^<]*)</pre>', dom)
    assert shown is not None, dom
    assert re.fullmatch(r"DEALS:\d+,\d+", shown.group(1)), shown.group(1)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the name http.server gives it
        pass


def dump_dom(browser: str, url: str) -> str:
    """The page's DOM once its script has run: Chromium stops the virtual clock only after pending fetches end."""
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=30000", "--dump-dom", url],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout
