"""The service's official Node client (its v1 classes) drives every persons, organizations, users and person and
organization fields operation of a running mock, unmodified. Skipped when `npm` or `node` is missing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract_tests.selection import spec_operations
from tests.server import running_server

# The official Node client on npm, at the newest release whose v1 classes still cover persons, organizations and
# users (later ones moved them to v2).
PACKAGE = "pipedrive"
CLIENT = f"{PACKAGE}@22.10.1"
SCRIPT = Path(__file__).with_name("node") / "drive_crm.js"
# The client's method names that differ from the spec's operationIds.
RENAMED = {"searchOrganization": "searchOrganizations"}


@pytest.fixture(scope="module")
def node_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("npm and node are needed to install and run the official Node client")
    folder = tmp_path_factory.mktemp("node-client")
    command = ["npm", "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(folder), CLIENT]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        pytest.skip(f"npm could not install {CLIENT}: {(result.stderr or result.stdout)[-500:]}")
    return folder / "node_modules"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_server("--log-level", "warning") as url:
        yield f"{url}/v1"


def test_the_official_node_client_drives_every_person_organization_and_user_operation(
    node_modules: Path, base_url: str
) -> None:
    environment = {**os.environ, "NODE_PATH": str(node_modules), "CLIENT_PACKAGE": PACKAGE}
    result = subprocess.run(
        ["node", str(SCRIPT), base_url, "node-client-token"],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )

    calls = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    failures = [call for call in calls if not call["ok"]]
    assert result.returncode == 0 and not failures, (failures, result.stderr[-2000:])
    driven = {RENAMED.get(call["method"], call["method"]) for call in calls}
    contacts = {f"{name} (beyond the reference)" for name in
                ("Persons", "PersonFields", "Organizations", "OrganizationFields", "Users")}  # fmt: skip
    beyond = {operation.operation_id for operation in spec_operations() if operation.tags & contacts}
    assert beyond and beyond <= driven, sorted(beyond - driven)
