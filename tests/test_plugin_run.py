"""The pytest plugin as a user meets it: a run of a one-test file in a folder of its own, in a pytest process of its
own. It adds no warning of a third-party library to the run, and its strict mode can be turned on for the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
USER_TEST = """
def test_order_nr(fintesk_mock):
    with fintesk_mock.client() as client:
        answer = client.post("/activityTypes", json={"name": "Video call", "icon_key": "camera", "order_nr": 3})
    EXPECTATION
"""
IGNORED = 'assert answer.status_code == 200 and "order_nr" in answer.headers["x-fintesk-mock-warning"], answer.text'
REFUSED = "assert answer.status_code == 400 and \"'order_nr'\" in answer.json()['error'], answer.text"


def user_run(folder: Path, expectation: str, *arguments: str, ini: str = "") -> subprocess.CompletedProcess[str]:
    (folder / "test_user.py").write_text(USER_TEST.replace("EXPECTATION", expectation), encoding="utf-8")
    (folder / "pytest.ini").write_text(f"[pytest]\n{ini}", encoding="utf-8")  # the user's, not this project's
    env = {name: value for name, value in os.environ.items() if not name.startswith(("FINTESK_", "PYTEST_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", *arguments]
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=600)


def test_a_users_run_has_no_deprecation_warning_of_a_library(tmp_path: Path) -> None:
    result = user_run(tmp_path, IGNORED, "-W", "error::DeprecationWarning", "-W", "error::PendingDeprecationWarning")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "1 passed" in output
    assert "warning" not in output.lower(), output[-3000:]


def test_a_users_own_deprecation_warning_still_shows(tmp_path: Path) -> None:
    own = 'import warnings; warnings.warn("the user\'s own", DeprecationWarning); ' + IGNORED
    result = user_run(tmp_path, own)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "the user's own" in result.stdout and "1 warning" in result.stdout


@pytest.mark.parametrize(("arguments", "ini"), [(("--fintesk-mock-strict",), ""), ((), "fintesk_mock_strict = true")])
def test_strict_mode_for_a_run_by_option_or_ini(tmp_path: Path, arguments: tuple[str, ...], ini: str) -> None:
    result = user_run(tmp_path, REFUSED, *arguments, ini=ini)
    assert result.returncode == 0, result.stdout[-3000:]
