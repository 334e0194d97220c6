"""The package as users install it: a wheel that carries its contract and data, run outside the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from mock_server import __version__
from tests.server import running_server

ROOT = Path(__file__).resolve().parent.parent
# Left out of the copy the wheel is built from: what a build or a run leaves in a checkout.
LEFT_OUT = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis",
                                  "results", ".cache", "node_modules")  # fmt: skip


def bundled_files() -> list[str]:
    """Every file the wheel must hold, as paths below the package, from the checkout's own folders."""
    files = ["spec/openapi.yaml", "spec/admin.yaml"]
    for folder in ("default", "scenarios"):
        files += [f"fixtures/{folder}/{path.name}" for path in sorted((ROOT / "fixtures" / folder).iterdir())]
    return files


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built offline from a copy of the checkout (the checkout itself stays untouched)."""
    source = tmp_path_factory.mktemp("source") / "fintesk-mock"
    shutil.copytree(ROOT, source, symlinks=True, ignore=LEFT_OUT)
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
               "--wheel-dir", str(out), str(source)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    (built,) = out.glob("fintesk_mock-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtual environment with the wheel installed, without network; its other dependencies are this
    environment's packages, reached through a .pth file (not --system-site-packages, which would see the base
    interpreter rather than an enclosing virtual environment). The checkout's editable install is not seen."""
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=False)
    python = home / "bin" / "python"
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index",
               str(wheel)]  # fmt: skip
    subprocess.run(install, check=True, capture_output=True, timeout=600)
    # Only after the install: pip would take the enclosing environment's editable install for this one.
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "enclosing-environment.pth").write_text("\n".join(sorted(ours)) + "\n")
    yield home


@pytest.fixture
def outside(tmp_path: Path) -> dict[str, str]:
    """The environment of a user's shell in a folder outside the checkout: nothing points back at it."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "FINTESK_"))}
    env["HOME"] = str(tmp_path)
    return env


def run(installed: Path, outside: dict[str, str], cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    command = [str(installed / "bin" / argv[0]), *argv[1:]]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=outside, timeout=600)


def test_wheel_holds_the_spec_and_every_bundled_fixture(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in bundled_files():
        assert f"mock_server/bundled/{path}" in names, path
    # Not a second copy in the checkout: the package reaches the top-level folders through links.
    assert (ROOT / "mock_server" / "bundled" / "spec").is_symlink()
    assert (ROOT / "mock_server" / "bundled" / "fixtures").is_symlink()


def test_installed_package_is_the_wheel_not_the_checkout(
    installed: Path, outside: dict[str, str], tmp_path: Path
) -> None:
    probe = "import mock_server; print(mock_server.__file__); print(mock_server.SPEC_PATH.resolve())"
    lines = run(installed, outside, tmp_path, "python", "-c", probe).stdout.splitlines()
    assert all(Path(line).is_relative_to(installed) for line in lines), lines


def test_version_and_scenarios_and_check_help_run_from_another_folder(
    installed: Path, outside: dict[str, str], tmp_path: Path
) -> None:
    version = run(installed, outside, tmp_path, "fintesk-mock", "--version")
    assert version.returncode == 0 and __version__ in version.stdout
    scenarios = run(installed, outside, tmp_path, "fintesk-mock", "scenarios")
    assert scenarios.returncode == 0, scenarios.stderr
    assert {path.stem for path in (ROOT / "fixtures" / "scenarios").glob("*.yaml")} <= {
        line.split()[0] for line in scenarios.stdout.splitlines()
    }
    check = run(installed, outside, tmp_path, "fintesk-mock", "check", "--help")
    assert check.returncode == 0 and "--base-url" in check.stdout, check.stderr
    assert list(tmp_path.iterdir()) == [], "nothing is written into the user's folder"


@pytest.mark.parametrize("command", [["fintesk-mock"], ["python", "-m", "mock_server"]], ids=["script", "module"])
def test_serve_answers_on_the_bundled_account(
    installed: Path, outside: dict[str, str], tmp_path: Path, command: list[str]
) -> None:
    argv = [str(installed / "bin" / command[0]), *command[1:]]
    with running_server("--log-level", "warning", command=argv, cwd=tmp_path, env=outside) as base_url:
        assert httpx.get(f"{base_url}/__mock__/health").json()["version"] == __version__
        deal = httpx.get(f"{base_url}/v1/deals/1", headers={"x-api-token": "t"})
        assert deal.status_code == 200 and deal.json()["data"]["id"] == 1


def test_a_users_pytest_suite_gets_the_fixture(installed: Path, outside: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "test_integration.py").write_text(
        "def test_my_client_reads_deals(fintesk_mock):\n"
        "    with fintesk_mock.client() as client:\n"
        "        assert client.get('/deals/1').json()['data']['id'] == 1\n"
    )
    result = run(installed, outside, tmp_path, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 "-p", "no:xdist", "test_integration.py")  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout


def test_both_specs_carry_the_package_version() -> None:
    for name in ("openapi.yaml", "admin.yaml"):
        document = yaml.safe_load((ROOT / "spec" / name).read_text(encoding="utf-8"))
        assert document["info"]["version"] == __version__, name
