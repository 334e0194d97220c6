"""`fintesk-mock check`: run the contract harness against the mock or a real Fintesk endpoint."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import httpx

from contract_tests.harness import CONFIG_PATH, NOT_APPLICABLE
from mock_server import SPEC_PATH

PHASES = ("examples", "coverage", "fuzzing", "stateful")
# create operationId -> how to delete what it made (a filter has no delete operation in the API)
CLEANUP = {
    "addDealProduct": "DELETE /deals/{deal_id}/products/{id}",
    "addActivity": "DELETE /activities?ids={id}",
    "addDeal": "DELETE /deals?ids={id}",
    "addActivityType": "DELETE /activityTypes?ids={id}",
    "addDealField": "DELETE /dealFields/{id}",
}


class UsageError(click.ClickException):
    exit_code = 2


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def mask(text: str, token: str | None) -> str:
    return text.replace(token, "[token]") if token else text


def probe(base_url: str, token: str) -> None:
    """Fail fast, with one line, when the endpoint cannot be reached or refuses the token."""
    try:
        response = httpx.get(f"{base_url}/currencies", headers={"x-api-token": token}, timeout=10)
    except httpx.HTTPError as error:
        raise UsageError(f"cannot reach {base_url}: {type(error).__name__}: {mask(str(error), token)}") from None
    if response.status_code == 401:
        raise UsageError(f"{base_url} refused the token (401); pass a valid one with --token or FINTESK_CHECK_TOKEN")


def config_file(folder: Path) -> Path:
    """Our Schemathesis settings plus auth; the token is read from the environment, never written out."""
    path = folder / "schemathesis.toml"
    auth = '[auth.openapi.api_key_header]\napi_key = "${FINTESK_CHECK_TOKEN}"\n\n'
    path.write_text(auth + CONFIG_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def schemathesis_args(
    base_url: str,
    config: Path,
    *,
    include_operation: tuple[str, ...],
    include_tag: tuple[str, ...],
    exclude_operation: tuple[str, ...],
    max_examples: int,
    seed: int | None,
    phases: str,
    workers: int,
    reports: tuple[str, ...],
    read_only: bool,
    rate: float | None,
) -> list[str]:
    args = ["--config-file", str(config), "run", str(SPEC_PATH), "--url", base_url, "--checks", "all"]
    args += ["--exclude-checks", ",".join(sorted(NOT_APPLICABLE)), "--max-examples", str(max_examples)]
    args += ["--phases", phases, "--workers", str(workers)]
    if seed is not None:
        # A seed alone still lets generation vary between runs; deterministic mode makes the run repeat.
        args += ["--seed", str(seed), "--generation-deterministic"]
    for operation_id in include_operation:
        args += ["--include-operation-id", operation_id]
    for tag in include_tag:
        args += ["--include-tag", tag]
    for operation_id in exclude_operation:
        args += ["--exclude-operation-id", operation_id]
    if read_only:
        args += ["--include-method", "GET"]
    if rate:
        args += ["--rate-limit", f"{rate:g}/s"]
    formats = []
    for report in reports:
        kind, _, path = report.partition("=")
        if kind not in ("junit", "har") or not path:
            raise UsageError(f"--report takes junit=PATH or har=PATH, not {report!r}")
        formats.append(kind)
        args += [f"--report-{kind}-path", path]
    if formats:
        args += ["--report", ",".join(formats)]
    return args


def cleanup(base_url: str, token: str, log: Path) -> None:
    """Delete, newest first, every record the run created; say what could not be deleted."""
    if not log.exists():
        return
    created = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    left: list[str] = []
    with httpx.Client(base_url=base_url, headers={"x-api-token": token}, timeout=10) as client:
        for entry in reversed(created):
            template = CLEANUP.get(entry["operation"])
            if template is None:
                left.append(f"{entry['operation']} {entry['id']}")
                continue
            method, _, path = template.format(**entry).partition(" ")
            try:
                status = client.request(method, path).status_code
            except httpx.HTTPError:
                status = 0
            if status not in (200, 404):
                left.append(f"{entry['operation']} {entry['id']}")
    click.echo(f"Cleanup: deleted what {len(created) - len(left)} of {len(created)} creating calls made.")
    if left:
        click.echo("Left behind (no delete operation or the delete failed): " + ", ".join(left[:20]))


@click.command()
@click.option("--base-url", required=True, help="The API base, e.g. http://127.0.0.1:8080/v1.")
@click.option("--token", envvar="FINTESK_CHECK_TOKEN", required=True, help="API token (or FINTESK_CHECK_TOKEN).")
@click.option("--include-operation", multiple=True, help="Only this operationId (repeatable).")
@click.option("--include-tag", multiple=True, help="Only operations with this tag (repeatable).")
@click.option("--exclude-operation", multiple=True, help="Skip this operationId (repeatable).")
@click.option("--max-examples", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", type=int, help="Seed of the generated data: the same seed repeats a run.")
@click.option("--phases", default=",".join(PHASES), show_default=True, help="Comma-separated subset of the phases.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--report", "reports", multiple=True, help="junit=PATH or har=PATH (repeatable).")
@click.option("--read-only/--allow-writes", default=None, help="GET only; the default against non-loopback URLs.")
@click.option("--rate", type=click.FloatRange(min=0.1), help="At most this many requests per second.")
@click.option("--other-token", envvar="FINTESK_CHECK_OTHER_TOKEN", help="A second token, to check tenant isolation.")
def check(base_url: str, token: str, read_only: bool | None, other_token: str | None, **run: Any) -> None:
    """Check an endpoint against spec/openapi.yaml. Exit 0 conformant, 1 violations, 2 usage or connection error."""
    base_url = base_url.rstrip("/")
    unknown = set(run["phases"].split(",")) - set(PHASES)
    if unknown:
        raise UsageError(f"--phases takes a subset of {','.join(PHASES)}; unknown: {','.join(sorted(unknown))}")
    if read_only is None:
        read_only = not is_loopback(base_url)
    probe(base_url, token)
    mode = "read-only (GET)" if read_only else "reads and writes"
    click.echo(f"Checking {base_url} against {SPEC_PATH.name}: {mode}, {run['max_examples']} examples per operation.")
    with tempfile.TemporaryDirectory(prefix="fintesk-check-") as folder:
        created = Path(folder) / "created.jsonl"
        # `run` holds the remaining options exactly as schemathesis_args names them.
        args = schemathesis_args(base_url, config_file(Path(folder)), read_only=read_only, **run)
        env = {**os.environ, "FINTESK_CHECK_TOKEN": token, "SCHEMATHESIS_HOOKS": "contract_tests.hooks",
               "FINTESK_CHECK_CREATED": str(created)}  # fmt: skip
        if other_token:
            env["FINTESK_CHECK_OTHER_TOKEN"] = other_token
        process = subprocess.Popen([sys.executable, "-m", "schemathesis.cli", *args], env=env)
        try:
            code = process.wait()
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            process.wait()
            code = 130
        finally:
            if not read_only:
                cleanup(base_url, token, created)
    if code == 130:
        raise SystemExit(130)
    raise SystemExit(0 if code == 0 else 1 if code == 1 else 2)
