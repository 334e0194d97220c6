"""The service's official Node client (its v1 classes) drives every operation beyond the reference of a running mock,
unmodified: persons, organizations, users and their fields (tests/node/drive_crm.js); pipelines, stages, products,
product fields, notes, recents, webhooks and the single deletes (tests/node/drive_catalog.js). Each call's answer is
checked by the driver, and every answer is read whole: a value the mock sends that the client's model reads as
nothing (tests/node/harness.js) fails the run. Skipped when `npm` or `node` is missing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from contract_tests.selection import spec_operations
from tests.server import running_server

# The official Node client on npm, at the newest release whose v1 classes still cover persons, organizations and
# users (later ones moved them to v2).
PACKAGE = "pipedrive"
CLIENT = f"{PACKAGE}@22.10.1"
DRIVERS = Path(__file__).with_name("node")
# The client's method names that differ from the spec's operationIds.
RENAMED = {"searchOrganization": "searchOrganizations"}
# Operations beyond the reference that the client has no method for, each with the reason. None so far: every one
# of them is driven. An entry here that a driver does call is reported as stale.
NOT_IN_CLIENT: dict[str, str] = {}

Driver = Callable[[str, str], set[str]]


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
def server_url() -> Iterator[str]:
    with running_server("--log-level", "warning") as url:
        yield url


@pytest.fixture(scope="module")
def drive(node_modules: Path, server_url: str) -> Driver:
    """Runs a driver script once per prefix against the module's server (drive_crm.js adds records it then counts,
    so it runs once), fails on any call that failed or answered the wrong thing, and gives the client methods it
    called, named as the spec's operationIds."""
    done: dict[tuple[str, str], set[str]] = {}

    def run(script: str, prefix: str = "/v1") -> set[str]:
        if (script, prefix) not in done:
            environment = {**os.environ, "NODE_PATH": str(node_modules), "CLIENT_PACKAGE": PACKAGE}
            result = subprocess.run(
                ["node", str(DRIVERS / script), server_url + prefix, "node-client-token"],
                capture_output=True,
                text=True,
                timeout=300,
                env=environment,
            )
            calls = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
            failures = [call for call in calls if not call["ok"]]
            assert result.returncode == 0 and calls and not failures, (failures, result.stderr[-2000:])
            # An operation counts as driven when the client called it and its answer was checked, not only refused.
            answered = (call["method"] for call in calls if not call["refused"])
            done[script, prefix] = {RENAMED.get(method, method) for method in answered}
        return done[script, prefix]

    return run


def beyond_reference(*resources: str) -> set[str]:
    """The operationIds marked `x-beyond-reference`, of some resources (tags "NAME (beyond the reference)") or all."""
    tags = {f"{name} (beyond the reference)" for name in resources}
    return {operation.operation_id for operation in spec_operations()
            if operation.beyond_reference and (not tags or operation.tags & tags)}  # fmt: skip


def test_the_official_node_client_drives_every_person_organization_and_user_operation(drive: Driver) -> None:
    contacts = beyond_reference("Persons", "PersonFields", "Organizations", "OrganizationFields", "Users")

    assert contacts and contacts <= drive("drive_crm.js"), sorted(contacts - drive("drive_crm.js"))


@pytest.mark.parametrize("prefix", ["/v1", "/api/v1"])
def test_the_official_node_client_drives_every_catalog_operation(drive: Driver, prefix: str) -> None:
    catalog = beyond_reference("Pipelines", "Stages", "Products", "ProductFields", "Notes", "Recents", "Webhooks",
                               "SingleDeletes")  # fmt: skip

    assert catalog and catalog <= drive("drive_catalog.js", prefix), sorted(catalog - drive("drive_catalog.js", prefix))


def test_every_operation_beyond_the_reference_is_driven_by_the_official_node_client(drive: Driver) -> None:
    beyond = beyond_reference()
    driven = drive("drive_crm.js") | drive("drive_catalog.js")

    assert not set(NOT_IN_CLIENT) - beyond, "an excluded operation is not in the spec"
    assert not set(NOT_IN_CLIENT) & driven, f"stale exclusions: {sorted(set(NOT_IN_CLIENT) & driven)}"
    assert not beyond - driven - set(NOT_IN_CLIENT), f"not driven: {sorted(beyond - driven - set(NOT_IN_CLIENT))}"
