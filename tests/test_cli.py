"""The command line: every option value checked before anything starts, every option's variable named."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mock_server import __version__
from mock_server.cli import main, serve

ROOT = Path(__file__).resolve().parent.parent


def fintesk_mock(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mock_server", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("port", ["0", "65536", "99999", "-1", "http"])
def test_a_port_outside_1_to_65535_is_a_one_line_error(port: str) -> None:
    result = fintesk_mock("serve", "--port", port)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "--port" in result.stderr


def test_serve_help_names_the_environment_variable_of_every_option() -> None:
    help_text = CliRunner().invoke(main, ["serve", "--help"], terminal_width=200).output
    flat = " ".join(help_text.split())
    options = [parameter for parameter in serve.params if isinstance(parameter, click.Option)]
    assert len(options) >= 10
    for option in options:
        variable = "FINTESK_MOCK_" + option.opts[0].removeprefix("--").replace("-", "_").upper()
        assert option.envvar == variable, option.name
        assert f"env var: {variable}" in flat, option.name


def test_version_is_the_package_version() -> None:
    result = fintesk_mock("--version")
    assert result.returncode == 0
    assert result.stdout.strip().endswith(__version__)


def test_ci_runs_the_readmes_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^pip install -e '\.\[test\]' && .+$", readme, flags=re.M)
    assert len(commands) == 1, commands
    assert commands[0] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
