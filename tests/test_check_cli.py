"""`fintesk-mock check` as users run it: a real server process on loopback, exit codes, masking, safety."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract_tests.runner import CheckOptions, UsageError, is_loopback, mask, plan, run_check, schemathesis_args
from contract_tests.selection import select, spec_operations
from mock_server.app import create_app
from mock_server.client import MockControl
from mock_server.domain.deals import Deals
from mock_server.settings import Settings
from tests.planted import DropQuery, RewriteJSON, serving, truncated_list
from tests.server import free_port, running_server

TOKEN = "cli-secret-token"


def run_check_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mock_server", "check", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=cwd)


@pytest.fixture(scope="module")
def locked_server() -> Iterator[str]:
    with running_server("--tokens", f"{TOKEN},other-token", "--log-level", "warning") as base_url:
        yield f"{base_url}/v1"


def test_check_passes_a_conformant_mock_and_prints_the_table(locked_server: str, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    result = run_check_cli(
        "--base-url", locked_server, "--token", TOKEN, "--other-token", "other-token",
        "--include-tag", "Deals", "--max-examples", "5", "--seed", "7", "--report", f"junit={junit}",
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "requests and failed checks per operation" in output
    assert "POST /deals" in output
    assert "Seed: 7" in output  # the seed drives generation (no "not used in the deterministic mode")
    assert "Stateful phase skipped" not in output and re.search(r"^stateful +\d+ scenarios?: ", output, re.M)
    assert junit.exists() and "testsuite" in junit.read_text()
    assert TOKEN not in output and TOKEN not in junit.read_text()
    assert "Cleanup: deleted" in output


def test_check_finds_violations_and_exits_1(tmp_path: Path) -> None:
    # Without --tokens the mock accepts any token, which the ignored_auth check rightly reports.
    with running_server("--log-level", "warning") as base_url:
        result = run_check_cli(
            "--base-url", f"{base_url}/v1", "--token", TOKEN, "--include-operation", "getCurrencies",
            "--max-examples", "5", "--phases", "examples,coverage,fuzzing",
        )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "API accepts invalid authentication" in output
    assert "curl" in output


def test_unreachable_endpoint_is_exit_2_with_one_line() -> None:
    result = run_check_cli("--base-url", f"http://127.0.0.1:{free_port()}/v1", "--token", TOKEN)
    assert result.returncode == 2
    assert "cannot reach" in result.stderr
    assert TOKEN not in result.stderr


def test_refused_token_is_exit_2(locked_server: str) -> None:
    result = run_check_cli("--base-url", locked_server, "--token", "wrong-token")
    assert result.returncode == 2
    assert "refused the token" in result.stderr


def test_unknown_phase_is_exit_2(locked_server: str) -> None:
    result = run_check_cli("--base-url", locked_server, "--token", TOKEN, "--phases", "examples,bogus")
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


def args_for(**options: Any) -> list[str]:
    chosen = select(read_only=bool(options.get("read_only")))
    return schemathesis_args("https://acme.fintesk.com/api/v1", Path("config.toml"), CheckOptions(**options), chosen)


def test_read_only_runs_send_only_get() -> None:
    args = args_for(read_only=True)
    chosen = [args[index + 1] for index, arg in enumerate(args) if arg == "--include-operation-id"]
    methods = {operation.operation_id: operation.method for operation in spec_operations()}
    assert chosen and {methods[operation_id] for operation_id in chosen} == {"GET"}
    assert "--include-operation-id" not in args_for(read_only=False)


def test_read_only_with_a_tag_still_sends_only_get() -> None:
    # Schemathesis joins include filters with "or": a tag and a method filter would let the tag's writes through.
    options, chosen, _ = plan("https://acme.fintesk.com/api/v1", CheckOptions(include_tag=("Deals",)))
    assert options.read_only
    assert "getDeal" in chosen and "addDeal" not in chosen and "deleteDeals" not in chosen


def test_rate_becomes_a_request_limit() -> None:
    args = args_for(read_only=True, rate=2.5)
    assert args[args.index("--rate-limit") + 1] == "2.5/s"


def test_mode_seed_and_no_database_reach_schemathesis() -> None:
    args = args_for(mode="negative", seed=7)
    assert args[args.index("--mode") + 1] == "negative"
    assert args[args.index("--seed") + 1] == "7"
    assert "--generation-deterministic" not in args
    assert args[args.index("--generation-database") + 1] == "none"
    assert args_for()[args_for().index("--mode") + 1] == "all"


def test_the_token_never_reaches_the_command_line() -> None:
    assert TOKEN not in " ".join(args_for(read_only=False))
    assert mask(f"error for {TOKEN}", TOKEN) == "error for [token]"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"include_operation": ("getDael",)}, "getDeal"),
        ({"exclude_operation": ("getDael",)}, "getDeal"),
        ({"include_tag": ("Dealz",)}, "Deals"),
    ],
)
def test_unknown_operation_or_tag_is_a_usage_error_listing_the_known_ones(options: dict[str, Any], named: str) -> None:
    with pytest.raises(UsageError) as error:
        plan("http://127.0.0.1:8080/v1", CheckOptions(**options))
    assert error.value.exit_code == 2
    assert named in error.value.message and "unknown" in error.value.message


def test_unknown_operation_exits_2_from_the_command(locked_server: str) -> None:
    result = run_check_cli("--base-url", locked_server, "--token", TOKEN, "--include-operation", "getDael")
    assert result.returncode == 2
    assert "unknown operationId getDael" in result.stderr and "getDeals" in result.stderr


@pytest.mark.parametrize("selection", [{"include_operation": ("getCurrencies",)}, {"include_tag": ("Currencies",)}])
def test_a_selection_without_links_plans_no_stateful_phase(selection: dict[str, Any]) -> None:
    options, chosen, notes = plan("http://127.0.0.1:8080/v1", CheckOptions(**selection))
    assert chosen == ["getCurrencies"]
    assert options.phases == "examples,coverage,fuzzing"
    assert notes == ["Stateful phase skipped: the chosen operations have no links between them."]


def test_a_selection_without_links_passes_a_correct_mock(locked_server: str, tmp_path: Path) -> None:
    selection = ("--include-operation", "getCurrencies")
    result = run_check_cli(
        "--base-url", locked_server, "--token", TOKEN, *selection, "--max-examples", "3", cwd=tmp_path
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Stateful phase skipped: the chosen operations have no links between them." in result.stdout
    # Piped into a log: a line per operation and phase as it finishes, nothing left in the current folder.
    assert re.search(r"^fuzzing +GET /currencies: \d+ cases?, 0 failures, \d+\.\ds$", result.stdout, re.M)
    assert list(tmp_path.iterdir()) == []


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


def deal_count(base_url: str) -> int:
    return len(httpx.get(f"{base_url}/deals?limit=500", headers={"x-api-token": TOKEN}).json()["data"])


def test_interrupted_run_still_cleans_up(locked_server: str) -> None:
    before = deal_count(locked_server)
    command = [sys.executable, "-m", "mock_server", "check", "--base-url", locked_server, "--token", TOKEN,
               "--include-operation", "addDeal", "--max-examples", "5000", "--phases", "fuzzing"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while deal_count(locked_server) == before:  # interrupt once the run has created something
        assert process.poll() is None and time.monotonic() < deadline, "the run created no deal"
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output[-2000:]
    assert "Cleanup: deleted" in output
    assert deal_count(locked_server) == before


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


def sent_requests(seed: int, har: Path) -> list[tuple[str, str, str | None]]:
    """Every request a run with this seed sends to a fresh mock, in order, from its HAR report."""
    options = CheckOptions(
        include_operation=("getDeals", "addDeal", "getDeal"), max_examples=3, seed=seed,
        phases="fuzzing,stateful", reports=(f"har={har}",),
    )  # fmt: skip
    with serving(planted_app()) as base_url:
        # Stateful steps copy answers (add_time) into later requests: the same clock makes the same requests.
        MockControl(base_url).freeze("2026-03-02 10:00:00")
        output = io.StringIO()
        assert run_check(base_url, PLANTED_TOKEN, options, output=output) == 0, output.getvalue()[-2000:]
    entries = json.loads(har.read_text())["log"]["entries"]
    sent = [
        (entry["request"]["method"], entry["request"]["url"].replace(base_url, ""),
         entry["request"].get("postData", {}).get("text"))
        for entry in entries
    ]  # fmt: skip
    # Schemathesis' own probes with made-up credentials (ignored_auth) are not part of the seeded generation.
    return [(method, url, body) for method, url, body in sent if "api_token=" not in url]


def test_the_same_seed_repeats_a_run_and_another_seed_does_not(tmp_path: Path) -> None:
    first = sent_requests(11, tmp_path / "first.har")
    again = sent_requests(11, tmp_path / "again.har")
    other = sent_requests(12, tmp_path / "other.har")
    assert len(first) > 20
    assert any(method == "POST" for method, _, _ in first)  # the stateful phase ran too
    assert first == again
    assert first != other


PLANTED_TOKEN = "planted-secret-token"


def planted_run(app: Any, *operation_ids: str) -> tuple[int, str]:
    """A short seeded run, started the programmatic way, of some operations against a mock with a planted bug."""
    output = io.StringIO()
    options = CheckOptions(include_operation=operation_ids, max_examples=5, seed=1, phases="examples,coverage,fuzzing")
    with serving(app) as base_url:
        code = run_check(base_url, PLANTED_TOKEN, options, output=output)
    return code, output.getvalue()


def planted_app() -> Any:
    return create_app(Settings(tokens=frozenset({PLANTED_TOKEN})))


def test_a_run_finds_an_ignored_limit() -> None:
    code, output = planted_run(DropQuery(planted_app(), "limit"), "getDeals")
    assert code == 1, output[-3000:]
    assert "fintesk_pagination_echo" in output


def test_a_run_without_other_token_finds_a_made_up_record(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Deals.get
    monkeypatch.setattr(Deals, "get", lambda self, deal_id: self.find(deal_id) or {**original(self, 1), "id": deal_id})
    code, output = planted_run(planted_app(), "getDeal")
    assert code == 1, output[-3000:]
    assert "fintesk_unknown_id_is_404" in output


def test_a_run_finds_a_list_that_hides_further_pages_and_prints_a_reproduction_that_runs() -> None:
    code, output = planted_run(RewriteJSON(planted_app(), "GET", r"/v1/deals", truncated_list), "getDeals")
    assert code == 1, output[-3000:]
    assert "fintesk_pagination_complete" in output
    assert PLANTED_TOKEN not in output and "[Filtered]" not in output
    assert output.index("requests and failed checks per operation") < output.index("FAILURES")
    command = next(line.strip() for line in output.splitlines() if line.strip().startswith("curl "))
    assert '-H "x-api-token: $FINTESK_CHECK_TOKEN"' in command
    with serving(planted_app()) as base_url:
        command = re.sub(r"http://127\.0\.0\.1:\d+/v1", base_url, command)
        env = {**os.environ, "FINTESK_CHECK_TOKEN": PLANTED_TOKEN}
        result = subprocess.run(["sh", "-c", command + " -s"], env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(result.stdout)["success"] is True


def test_every_option_can_come_from_a_fintesk_check_variable() -> None:
    from click.testing import CliRunner

    from contract_tests.runner import check

    env = {"FINTESK_CHECK_BASE_URL": "http://127.0.0.1:9/v1", "FINTESK_CHECK_TOKEN": TOKEN,
           "FINTESK_CHECK_INCLUDE_OPERATION": "getDael", "FINTESK_CHECK_MODE": "positive"}  # fmt: skip
    result = CliRunner().invoke(check, [], env=env)
    assert result.exit_code == 2
    assert "unknown operationId getDael" in result.output
    result = CliRunner().invoke(check, [], env={**env, "FINTESK_CHECK_MODE": "sideways"})
    assert result.exit_code == 2 and "sideways" in result.output
    options = {param.name: param for param in check.params}
    assert all(param.envvar == f"FINTESK_CHECK_{param.opts[0][2:].replace('-', '_').upper()}"
               for param in options.values())  # fmt: skip


def test_reference_only_leaves_out_the_operations_beyond_the_reference() -> None:
    beyond = {operation.operation_id for operation in spec_operations() if operation.beyond_reference}
    options, chosen, _ = plan("http://127.0.0.1:8080/v1", CheckOptions(reference_only=True))

    assert {"getPipelines", "getRecents", "deleteDeal", "addNote"} <= beyond
    assert options.reference_only and chosen and not set(chosen) & beyond
    assert "getDeals" in chosen and len(chosen) == len(spec_operations()) - len(beyond)
    assert beyond <= set(plan("http://127.0.0.1:8080/v1", CheckOptions())[1])


def test_reference_only_leaves_out_every_operation_beyond_the_reference() -> None:
    beyond = {operation.operation_id for operation in spec_operations() if operation.beyond_reference}
    reference = {operation.operation_id for operation in spec_operations()} - beyond
    _, chosen, _ = plan("http://127.0.0.1:8080/v1", CheckOptions(reference_only=True))
    _, everything, _ = plan("http://127.0.0.1:8080/v1", CheckOptions())
    assert {"addPerson", "getUsers", "mergeOrganizations"} <= beyond
    assert set(chosen) == reference and len(reference) == 38
    assert beyond <= set(everything)
    args = schemathesis_args("http://127.0.0.1:8080/v1", Path("config.toml"), CheckOptions(reference_only=True), chosen)
    named = {args[index + 1] for index, arg in enumerate(args) if arg == "--include-operation-id"}
    assert named == reference


def test_reference_only_with_only_beyond_operations_chosen_is_exit_2() -> None:
    result = run_check_cli(
        "--base-url", f"http://127.0.0.1:{free_port()}/v1", "--token", TOKEN, "--reference-only",
        "--include-tag", "Persons (beyond the reference)",
    )  # fmt: skip
    assert result.returncode == 2
    assert "reference-only" in result.stderr
