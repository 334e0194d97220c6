"""`fintesk-mock parity`: no difference with a faithful target; each planted bug that changes an answer is one."""

from __future__ import annotations

import io
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract_tests.parity import (
    ParityOptions,
    differences,
    normalised,
    rate_for,
    run_parity,
    spec_operations,
    tour,
)
from contract_tests.runner import UsageError
from mock_server.app import create_app
from mock_server.data import snapshot
from mock_server.data.pacing import Pacer, Source
from mock_server.data.progress import Lines
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
from tests.server import running_server

TOKEN = "parity-secret-token-1234"


@pytest.fixture(scope="module")
def readable(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled account as its API shows it (a snapshot of it): what a snapshot of a target can copy whole.
    The bundled account itself holds what no API read shows (exchange rates, the keys a read fills in)."""
    out = tmp_path_factory.mktemp("readable") / "fixtures"
    with create_app(Settings()).test_client() as client:
        source = Source("http://testserver/v1", TOKEN, Pacer(), client=client)
        snapshot.snapshot(source, out, force=False, progress=Lines(), now="2026-03-02 10:00:00", deal_persons=True)
    return out


@pytest.fixture(scope="module")
def mock_target(readable: Path) -> Iterator[str]:
    with running_server("--tokens", TOKEN, "--fixtures", str(readable), "--log-level", "warning") as base_url:
        yield f"{base_url}/v1"


def parity(base_url: str, **options: Any) -> tuple[int, str]:
    output = io.StringIO()
    code = run_parity(base_url, TOKEN, ParityOptions(**options), output=output)
    return code, output.getvalue()


def differing(output: str) -> set[str]:
    """The operations of the table that had a difference."""
    rows = (line.split() for line in output.splitlines() if line.startswith(("  get", "  search", "  find")))
    return {row[0] for row in rows if len(row) == 3 and row[2] != "0"}


def test_a_faithful_target_shows_no_difference_over_the_tour(mock_target: str, tmp_path: Path) -> None:
    junit = tmp_path / "parity.xml"
    code, output = parity(mock_target, junit=junit)
    assert differing(output) == set(), output[-4000:]
    assert code == 0 and "Parity: no difference." in output
    gets = {operation.operation_id for operation in spec_operations() if operation.method == "GET"}
    listed = {line.split()[0] for line in output.splitlines() if line.startswith(("  get", "  search", "  find"))}
    # Every GET of the spec is on the tour: the snapshot copies a record of every kind, so each read of one runs.
    assert gets - listed == set()
    rows = {line.split()[0]: line.split()[1:] for line in output.splitlines() if line.startswith("  get")}
    for read_one in ("getNote", "getPersonField", "getOrganizationField", "getProductField"):
        assert rows[read_one] == ["2", "0"], (read_one, rows[read_one])  # a record, and one that cannot exist
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and int(suite.get("tests", "0")) > len(gets)
    assert suite.get("failures") == "0"


def test_the_tour_follows_the_spec() -> None:
    operations = spec_operations()
    steps = tour(operations, lambda path: [7, 9], {})
    gets = [operation for operation in operations if operation.method == "GET"]
    assert {step.operation for step in steps} == {operation.operation_id for operation in gets}
    assert all(step.method == "GET" for step in steps)
    assert any(step.path == "/deals/7/flow" for step in steps)
    assert any(step.path == f"/deals/{9 + 1_000_000}" for step in steps)  # a record that cannot exist
    deals = [step.query for step in steps if step.path == "/deals"]
    assert deals == [{}, {"start": 1, "limit": 2}]
    timeline = next(step for step in steps if step.operation == "getDealsTimeline")
    assert set(timeline.query) == {"start_date", "interval", "amount", "field_key"}


# Each planted bug, and the operation whose answer it changes.
PLANTED = [
    ("wrong type", lambda app: RewriteJSON(app, "GET", r"/v1/deals/\d+", wrong_type), "getDeal"),
    ("broken pagination", lambda app: RewriteJSON(app, "GET", r"/v1/deals", broken_pagination), "getDeals"),
    ("truncated list", lambda app: RewriteJSON(app, "GET", r"/v1/deals", truncated_list), "getDeals"),
    ("skipped item", lambda app: RewriteJSON(app, "GET", r"/v1/deals", skipped_item), "getDeals"),
    ("ignored limit", lambda app: DropQuery(app, "limit"), "getDeals"),
    ("ignored start", lambda app: DropQuery(app, "start"), "getDeals"),
]


@pytest.mark.parametrize(("wrap", "operation"), [case[1:] for case in PLANTED], ids=[case[0] for case in PLANTED])
def test_each_planted_bug_that_changes_an_answer_is_a_difference(readable: Path, wrap: Any, operation: str) -> None:
    app = create_app(Settings(fixtures=readable, tokens=frozenset({TOKEN})))
    with serving(wrap(app)) as target:
        code, output = parity(target)
    assert code == 1, output[-4000:]
    row = next(line.split() for line in output.splitlines() if line.startswith(f"  {operation} "))
    assert int(row[2]) >= 1, output[-4000:]


def test_a_record_without_a_field_is_a_difference_with_the_snapshot_or_given_fixtures(readable: Path) -> None:
    app = create_app(Settings(fixtures=readable, tokens=frozenset({TOKEN})))
    with serving(RewriteJSON(app, "GET", r"/v1/deals", dropped_field)) as target:
        # The snapshot gives the deals that show no name an empty one, says so, and the run compares.
        code, output = parity(target)
        assert code == 1, output[-4000:]
        assert "deals 1, 2, 3" in output and "'name' not shown; set to ''" in output
        assert "getDeals" in differing(output), output[-4000:]
        assert "data.0.name: only the mock has it ('')" in output
        # Seeded with fixtures the user holds, the missing names are differences too.
        code, output = parity(target, fixtures=readable)
    assert code == 1
    assert "data.0.name: only the mock has it ('Hannes Öhman" in output


def test_ignore_sets_a_difference_aside(readable: Path) -> None:
    app = create_app(Settings(fixtures=readable, tokens=frozenset({TOKEN})))
    with serving(RewriteJSON(app, "GET", r"/v1/deals/\d+", wrong_type)) as target:
        code, output = parity(target, ignore=("data.value",))
    assert differing(output) == set() and code == 0, output[-4000:]


SCENARIO = """
- {method: POST, path: /activities, body: {subject: Parity call, type: call, deal_id: 2}, save: call}
- {method: GET, path: "/activities/{call}"}
- {method: PUT, path: "/activities/{call}", body: {subject: Parity call, moved, done: 1}}
- {method: GET, path: /deals/2/activities}
- {method: DELETE, path: /activities, query: {ids: "{call}"}}
- {method: GET, path: "/activities/{call}"}
"""


def test_a_scenario_that_writes_needs_allow_writes(mock_target: str, tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    with pytest.raises(UsageError, match="step 1 is a POST: a scenario that writes needs --allow-writes"):
        parity(mock_target, scenario=scenario)


def test_created_records_are_compared_by_reference(readable: Path, tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    app = create_app(Settings(fixtures=readable, tokens=frozenset({TOKEN})))
    with serving(app) as target:
        # An activity made and deleted before the snapshot: the target's next id is past the mock's.
        made = httpx.post(f"{target}/activities", json={"subject": "gone"}, headers={"x-api-token": TOKEN})
        gone = made.json()["data"]["id"]
        httpx.delete(f"{target}/activities", params={"ids": gone}, headers={"x-api-token": TOKEN})
        code, output = parity(target, scenario=scenario, allow_writes=True)
    assert code == 0, output[-4000:]
    assert "Sending 6 requests to both." in output


def test_normalising_sets_aside_times_computed_values_and_created_ids() -> None:
    target = {"data": {"id": 77, "add_time": "2026-03-02 10:00:00", "age": {"d": 1}, "deal_id": 2, "n": 77}}
    mock = {"data": {"id": 61, "add_time": "2026-03-02 10:00:05", "age": {"d": 0}, "deal_id": 2, "n": 61}}
    assert list(differences(normalised(target, {77: "call"}), normalised(mock, {61: "call"}), ())) == []
    assert list(differences(normalised(target, {}), normalised(mock, {}), ())) == [
        "data.id: target 77, mock 61",
        "data.n: target 77, mock 61",
    ]
    assert list(differences({"a": [1, 2]}, {"a": [1]}, ())) == ["a: 2 items at the target, 1 at the mock"]
    assert list(differences({"data": [{"x": 1}]}, {"data": [{"x": 2}]}, ("data.*.x",))) == []
    assert list(differences({"a": {"b": {"rate": 1}}}, {"a": {"b": {"rate": 2}}}, ("**.rate",))) == []


def test_an_unreachable_target_is_a_one_line_error_with_exit_code_2() -> None:
    command = [sys.executable, "-m", "mock_server", "parity", "--target", "http://127.0.0.1:1/v1", "--token", "t"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "cannot reach http://127.0.0.1:1/v1" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_target_off_this_machine_is_paced_and_toured_read_only() -> None:
    assert rate_for("https://example.fintesk.com/api/v1", None) == 5.0
    assert rate_for("http://127.0.0.1:8080/v1", None) is None
    assert rate_for("https://example.fintesk.com/api/v1", 1.5) == 1.5
    assert all(step.method == "GET" for step in tour(spec_operations(), lambda path: [1], {}))
