"""No raw token leaves the server: the control plane and the logs show tokens only masked."""

from __future__ import annotations

import logging
import logging.config
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.cli import main
from mock_server.http.access_log import HideTokens, masked_path
from mock_server.http.tenant import mask_token
from mock_server.settings import Settings

ALPHA = "alpha-secret-token-1"
BETA = "beta-secret-token-2"
GUESS = "guess-secret-token-3"


@pytest.fixture
def mock() -> TestClient:
    app = create_app(Settings(tokens=frozenset({ALPHA, BETA})))
    with app.test_client() as client:
        return client


def traffic(mock: TestClient) -> None:
    """Requests from two valid tokens, by header, bearer and query, and a rejected guess; faults, limits, resets."""
    deal = {"name": "A", "person_id": 1}
    assert mock.post("/v1/deals", headers={"x-api-token": ALPHA}, json=deal).status_code == 201
    assert mock.get("/v1/deals", headers={"authorization": f"Bearer {BETA}"}).status_code == 200
    assert mock.get(f"/v1/currencies?api_token={BETA}").status_code == 200
    assert mock.get("/v1/deals", headers={"x-api-token": GUESS}).status_code == 401
    assert mock.get(f"/v1/deals?api_token={GUESS}").status_code == 401
    assert mock.post("/__mock__/faults", json={"kind": "delay", "delay_ms": 1, "tenant": ALPHA}).status_code == 200
    assert mock.put("/__mock__/rate-limit", json={"limit": 50, "token": BETA}).status_code == 200


def control_answers(mock: TestClient) -> list[str]:
    """The text of every control-plane answer that lists or echoes tenants."""
    calls = [
        ("GET", "/__mock__/health", None),
        ("GET", "/__mock__/requests", None),
        ("GET", f"/__mock__/requests?token={ALPHA}", None),
        ("GET", "/__mock__/faults", None),
        ("GET", "/__mock__/rate-limit", None),
        ("GET", "/__mock__/clock", None),
        ("POST", "/__mock__/clock", {"freeze": "2024-05-01 12:00:00", "token": ALPHA}),
        ("GET", f"/__mock__/clock?token={ALPHA}", None),
        ("GET", "/__mock__/scenarios", None),
        ("POST", "/__mock__/faults", {"kind": "status", "status": 503, "tenant": GUESS, "times": 1}),
        ("PUT", "/__mock__/rate-limit", {"limit": 7, "token": ALPHA}),
        ("POST", f"/__mock__/tenants/{ALPHA}/load", {"fixtures": "default"}),
        ("PUT", f"/__mock__/tenants/{BETA}/state", None),
        ("POST", "/__mock__/scenarios/deleted-and-lost-deals", {"token": BETA}),
        ("DELETE", f"/__mock__/requests?token={GUESS}", None),
        ("POST", f"/__mock__/deliveries/faults?token={ALPHA}", {"kind": "drop"}),
        ("GET", f"/__mock__/deliveries/faults?token={ALPHA}", None),
        ("GET", f"/__mock__/deliveries?token={ALPHA}", None),
        ("DELETE", f"/__mock__/deliveries/faults?token={ALPHA}", None),
        ("POST", "/__mock__/reset", {"token": ALPHA}),
    ]
    answers = []
    for method, path, body in calls:
        if method == "PUT" and path.endswith("/state"):
            body = mock.get(path).json()
        response = mock.request(method, path, json=body)
        assert response.status_code == 200, (path, response.text)
        answers.append(response.text)
    return answers


def test_no_control_plane_answer_holds_a_raw_token(mock: TestClient) -> None:
    traffic(mock)
    for text in control_answers(mock):
        for token in (ALPHA, BETA, GUESS):
            assert token not in text, text


def test_the_journal_tells_tenants_apart_by_their_masked_token(mock: TestClient) -> None:
    traffic(mock)
    tenants = [entry["tenant"] for entry in mock.get("/__mock__/requests").json()]
    assert tenants == [mask_token(ALPHA), mask_token(BETA), mask_token(BETA), mask_token(GUESS), mask_token(GUESS)]
    assert len({mask_token(ALPHA), mask_token(BETA), mask_token(GUESS)}) == 3


def test_filtering_the_journal_by_a_raw_token_still_works(mock: TestClient) -> None:
    traffic(mock)
    entries = mock.get("/__mock__/requests", params={"token": BETA}).json()
    assert [(entry["path"], entry["tenant"]) for entry in entries] == [
        ("/v1/deals", mask_token(BETA)),
        ("/v1/currencies", mask_token(BETA)),
    ]


def test_listed_faults_and_limits_show_the_masked_token(mock: TestClient) -> None:
    traffic(mock)
    assert [fault["tenant"] for fault in mock.get("/__mock__/faults").json()] == [mask_token(ALPHA)]
    assert mock.get("/__mock__/rate-limit").json()["tokens"] == {mask_token(BETA): 50}


def test_mask_token__short_prefix_and_stable_fingerprint() -> None:
    masked = mask_token(ALPHA)
    assert masked.startswith("alph…") and len(masked) == len("alph…") + 8
    assert mask_token(ALPHA) == masked != mask_token(ALPHA + "x")
    # A short token shows at most a third of itself.
    assert mask_token("abc").startswith("a…") and mask_token("ab").startswith("…")


def test_access_log_lines_mask_the_api_token_parameter() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", f"/v1/deals?limit=5&api_token={ALPHA}&x=1", "1.1", 200),
                               None)  # fmt: skip
    assert HideTokens().filter(record)
    line = record.getMessage()
    assert ALPHA not in line and "api_token=***&x=1" in line and "limit=5" in line
    assert masked_path(f"/v1/deals?API_TOKEN={ALPHA}") == "/v1/deals?API_TOKEN=***"


def test_serve_hands_uvicorn_a_logging_config_that_masks_tokens(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    runs: list[dict[str, Any]] = []
    monkeypatch.setattr("mock_server.cli.run_server", lambda app, **options: runs.append(options))
    result = CliRunner().invoke(main, ["serve", "--log-level", "debug"])
    assert result.exit_code == 0, result.output
    (options,) = runs
    assert options["access_log"] is False  # the mock's own request log drops api_token (test_access_log)
    logging.config.dictConfig(options["log_config"])
    try:
        logging.getLogger("uvicorn.error").warning("Invalid HTTP request: %s", f"/v1/deals?api_token={ALPHA}")
        logging.getLogger("fintesk_mock").info("seen /v1/deals?api_token=%s", ALPHA)
        logged = capsys.readouterr()
        assert logged.err.count("/v1/deals?api_token=***") == 2 and ALPHA not in logged.out + logged.err
    finally:  # the handlers write to this test's captured stdout: later tests must not inherit them
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "fintesk_mock", "fintesk_mock.access"):
            logger = logging.getLogger(name)
            logger.handlers.clear()
            logger.filters.clear()
            logger.propagate, logger.level = True, logging.NOTSET
