"""The pytest fixture under pytest-xdist: two workers share one mock, each test frozen at its own time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server import running_server

pytest.importorskip("xdist", reason="pytest-xdist (the `test` extra) runs the fixture in parallel")

USER_TESTS = """
import os
import pathlib
import time

SYNC = pathlib.Path(os.environ["FINTESK_SYNC_DIR"])


def run_at(fintesk_mock, mine, other, moment):
    fintesk_mock.freeze(moment)
    (SYNC / mine).write_text(os.environ.get("PYTEST_XDIST_WORKER", "main"))
    # Write only once the other test has frozen its own clock, so both clocks are set while both tests write.
    deadline = time.monotonic() + 120
    while not (SYNC / other).exists():
        assert time.monotonic() < deadline, "the other test never ran alongside this one"
        time.sleep(0.02)
    with fintesk_mock.client() as client:
        stamps = {client.post("/deals", json={"person_id": 1}).json()["data"]["add_time"] for _ in range(5)}
    assert stamps == {moment}
    assert fintesk_mock.clock()["now"] == moment


def test_in_2020(fintesk_mock):
    run_at(fintesk_mock, "2020", "2030", "2020-01-01 08:00:00")


def test_in_2030(fintesk_mock):
    run_at(fintesk_mock, "2030", "2020", "2030-01-01 08:00:00")
"""


def test_two_workers_freeze_different_times_on_one_mock(tmp_path: Path) -> None:
    (tmp_path / "test_user_suite.py").write_text(USER_TESTS, encoding="utf-8")
    sync = tmp_path / "sync"
    sync.mkdir()
    with running_server("--log-level", "warning") as base_url:
        env = {**os.environ, "FINTESK_MOCK_URL": f"{base_url}/v1", "FINTESK_SYNC_DIR": str(sync)}
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-n", "2", "-q", "-p", "no:cacheprovider", "test_user_suite.py"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    workers = {(sync / name).read_text() for name in ("2020", "2030")}
    assert workers == {"gw0", "gw1"}
