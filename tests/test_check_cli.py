"""`fintesk-mock check` as users run it: a real server process on loopback, exit codes, masking, safety."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contract_tests.runner import is_loopback, mask, schemathesis_args
from mock_server.client import MockControl
from tests.server import free_port, running_server

TOKEN = "cli-secret-token"


def run_check(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mock_server", "check", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def locked_server() -> Iterator[str]:
    with running_server("--tokens", f"{TOKEN},other-token", "--log-level", "warning") as base_url:
        yield f"{base_url}/v1"


def test_check_passes_a_conformant_mock_and_prints_the_table(locked_server: str, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    result = run_check(
        "--base-url", locked_server, "--token", TOKEN, "--other-token", "other-token",
        "--include-tag", "Deals", "--max-examples", "5", "--seed", "7", "--report", f"junit={junit}",
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "requests and failed checks per operation" in output
    assert "POST /deals" in output
    assert junit.exists() and "testsuite" in junit.read_text()
    assert TOKEN not in output and TOKEN not in junit.read_text()
    assert "Cleanup: deleted" in output


def test_check_finds_violations_and_exits_1(tmp_path: Path) -> None:
    # Without --tokens the mock accepts any token, which the ignored_auth check rightly reports.
    with running_server("--log-level", "warning") as base_url:
        result = run_check(
            "--base-url", f"{base_url}/v1", "--token", TOKEN, "--include-operation", "getCurrencies",
            "--max-examples", "5", "--phases", "examples,coverage,fuzzing",
        )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "API accepts invalid authentication" in output
    assert "curl" in output


def test_unreachable_endpoint_is_exit_2_with_one_line() -> None:
    result = run_check("--base-url", f"http://127.0.0.1:{free_port()}/v1", "--token", TOKEN)
    assert result.returncode == 2
    assert "cannot reach" in result.stderr
    assert TOKEN not in result.stderr


def test_refused_token_is_exit_2(locked_server: str) -> None:
    result = run_check("--base-url", locked_server, "--token", "wrong-token")
    assert result.returncode == 2
    assert "refused the token" in result.stderr


def test_unknown_phase_is_exit_2(locked_server: str) -> None:
    result = run_check("--base-url", locked_server, "--token", TOKEN, "--phases", "examples,bogus")
    assert result.returncode == 2
    assert "bogus" in result.stderr


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8080/v1", True),
        ("http://localhost/v1", True),
        ("http://[::1]:80/v1", True),
        ("https://acme.fintesk.com/api/v1", False),
        ("http://10.0.0.5/v1", False),
    ],
)
def test_only_loopback_urls_count_as_local(url: str, loopback: bool) -> None:
    assert is_loopback(url) is loopback


def args_for(read_only: bool, rate: float | None = None) -> list[str]:
    return schemathesis_args(
        "https://acme.fintesk.com/api/v1", Path("config.toml"), include_operation=(), include_tag=(),
        exclude_operation=(), max_examples=5, seed=1, phases="examples", workers=1, reports=(),
        read_only=read_only, rate=rate,
    )  # fmt: skip


def test_read_only_runs_send_only_get() -> None:
    args = args_for(read_only=True)
    assert args[args.index("--include-method") + 1] == "GET"
    assert "--include-method" not in args_for(read_only=False)


def test_rate_becomes_a_request_limit() -> None:
    args = args_for(read_only=True, rate=2.5)
    assert args[args.index("--rate-limit") + 1] == "2.5/s"


def test_the_token_never_reaches_the_command_line() -> None:
    assert TOKEN not in " ".join(args_for(read_only=False))
    assert mask(f"error for {TOKEN}", TOKEN) == "error for [token]"


def test_cleanup_deletes_what_a_run_created(
    locked_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from contract_tests.runner import cleanup

    headers = {"x-api-token": TOKEN}
    deal = httpx.post(f"{locked_server}/deals", json={"person_id": 1}, headers=headers).json()["data"]
    line = httpx.post(
        f"{locked_server}/deals/{deal['id']}/products",
        json={"product_id": 1, "item_price": 5, "quantity": 1},
        headers=headers,
    ).json()["data"]
    log = tmp_path / "created.jsonl"
    log.write_text(
        json.dumps({"operation": "addDeal", "id": deal["id"], "deal_id": None})
        + "\n"
        + json.dumps({"operation": "addDealProduct", "id": line["id"], "deal_id": deal["id"]})
        + "\n"
    )
    cleanup(locked_server, TOKEN, log)
    assert "deleted what 2 of 2 creating calls made" in capsys.readouterr().out
    # Cleanup runs newest first: the line goes while its deal still exists, then the deal.
    assert httpx.get(f"{locked_server}/deals/{deal['id']}", headers=headers).status_code == 404
    assert httpx.get(f"{locked_server}/deals/{deal['id']}/products", headers=headers).status_code == 404


def test_interrupted_run_still_cleans_up(locked_server: str) -> None:
    command = [sys.executable, "-m", "mock_server", "check", "--base-url", locked_server, "--token", TOKEN,
               "--include-operation", "addDeal", "--max-examples", "5000", "--phases", "fuzzing"]  # fmt: skip
    control = MockControl(locked_server.removesuffix("/v1"))
    control.clear_requests()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # Interrupt once the run has made something to clean up: the mock's journal shows a deal it created.
    deadline = time.monotonic() + 300
    while not any(entry["method"] == "POST" and entry["status"] == 201 for entry in control.requests("/v1/deals")):
        assert process.poll() is None, "the run ended before it created anything"
        assert time.monotonic() < deadline, "the run created nothing within 300 s"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output[-2000:]
    assert "Cleanup: deleted" in output


def test_pacer_waits_out_a_429_and_an_exhausted_window(monkeypatch: pytest.MonkeyPatch) -> None:
    from contract_tests.hooks import Pacer

    pacer = Pacer()
    pacer.observe(200, {"x-ratelimit-remaining": "5", "x-ratelimit-reset": "2"})
    assert pacer.resume_at == 0.0
    before = time.monotonic()
    pacer.observe(429, {"retry-after": "1"})
    assert before + 0.9 <= pacer.resume_at <= time.monotonic() + 1.1
    pacer.observe(200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "2"})
    assert pacer.resume_at >= before + 1.9
    slept: list[float] = []
    monkeypatch.setattr("contract_tests.hooks.time.sleep", slept.append)
    Pacer().wait()
    assert slept == []
    pacer.wait()
    assert len(slept) == 1 and 0 < slept[0] <= 60


def sent_requests(seed: int, har: Path) -> list[tuple[str, str]]:
    """Every request a read-only run with this seed sends to a fresh mock, in order, from its HAR report."""
    with running_server("--tokens", TOKEN, "--log-level", "warning") as base_url:
        result = run_check(
            "--base-url", f"{base_url}/v1", "--token", TOKEN, "--include-tag", "Deals", "--read-only",
            "--max-examples", "10", "--seed", str(seed), "--phases", "examples,fuzzing",
            "--report", f"har={har}",
        )  # fmt: skip
        assert result.returncode == 0, result.stdout[-2000:]
        entries = json.loads(har.read_text())["log"]["entries"]
        sent = [(entry["request"]["method"], entry["request"]["url"].replace(base_url, "")) for entry in entries]
        # Schemathesis' own probes with made-up credentials (ignored_auth) are not part of the seeded generation.
        return [(method, url) for method, url in sent if "api_token=" not in url]


def test_the_same_seed_repeats_a_run_and_another_seed_does_not(tmp_path: Path) -> None:
    first = sent_requests(11, tmp_path / "first.har")
    again = sent_requests(11, tmp_path / "again.har")
    other = sent_requests(12, tmp_path / "other.har")
    assert len(first) > 20
    assert first == again
    assert first != other
