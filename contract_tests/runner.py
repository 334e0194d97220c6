"""`fintesk-mock check`: run the contract harness against the mock or a real Fintesk endpoint."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import click
import httpx
import yaml

from contract_tests.harness import CONFIG_PATH, NOT_APPLICABLE, STRICT_HEADERS, closed_bodies
from contract_tests.selection import SelectionError, has_links, select, spec_operations
from mock_server import SPEC_PATH
from mock_server.data.fixtures import SAFE_LOADER

PHASES = ("examples", "coverage", "fuzzing", "stateful")
MODES = ("positive", "negative", "all")
# create operationId -> how to delete what it made
CLEANUP = {
    "addFilter": "DELETE /filters/{id}",
    "addNote": "DELETE /notes/{id}",
    "addProduct": "DELETE /products/{id}",
    "addProductField": "DELETE /productFields/{id}",
    # Newest first: a run's stages go before their pipeline, and its deals before their stage.
    "addStage": "DELETE /stages/{id}",
    "addPipeline": "DELETE /pipelines/{id}",
    "addDealProduct": "DELETE /deals/{deal_id}/products/{id}",
    "addActivity": "DELETE /activities?ids={id}",
    "addDeal": "DELETE /deals?ids={id}",
    "addActivityType": "DELETE /activityTypes?ids={id}",
    "addDealField": "DELETE /dealFields/{id}",
    "addPerson": "DELETE /persons/{id}",
    "addOrganization": "DELETE /organizations/{id}",
    "addPersonField": "DELETE /personFields/{id}",
    "addOrganizationField": "DELETE /organizationFields/{id}",
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


def python_path() -> str:
    """PYTHONPATH for the Schemathesis process: this very package first, wherever the caller's folder is."""
    here = str(Path(__file__).resolve().parents[1])
    given = [str(Path(entry).resolve()) for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
    return os.pathsep.join([here, *given])


def config_file(folder: Path, strict: bool = False) -> Path:
    """Our Schemathesis settings plus auth; the token is read from the environment, never written out. A strict run
    sends the header that asks the mock for strict mode on every request."""
    path = folder / "schemathesis.toml"
    headers = "".join(f'headers.{name} = "{value}"\n' for name, value in STRICT_HEADERS.items()) if strict else ""
    auth = '[auth.openapi.api_key_header]\napi_key = "${FINTESK_CHECK_TOKEN}"\n\n'
    path.write_text(headers + auth + CONFIG_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def strict_spec(folder: Path) -> Path:
    """The spec a strict run generates from: request bodies closed to undefined fields (see `closed_bodies`)."""
    path = folder / "openapi.json"
    raw = yaml.load(SPEC_PATH.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    path.write_text(json.dumps(closed_bodies(raw)), encoding="utf-8")
    return path


@dataclass(frozen=True)
class CheckOptions:
    """Everything a run takes besides the base URL and the token; the defaults are the command's."""

    include_operation: tuple[str, ...] = ()
    include_tag: tuple[str, ...] = ()
    exclude_operation: tuple[str, ...] = ()
    max_examples: int = 20
    seed: int | None = None
    phases: str = ",".join(PHASES)
    mode: str = "all"
    workers: int = 1
    reports: tuple[str, ...] = ()
    read_only: bool | None = None
    reference_only: bool = False
    rate: float | None = None
    other_token: str | None = None
    strict: bool = False


def schemathesis_args(
    base_url: str, config: Path, options: CheckOptions, operation_ids: list[str], spec: Path = SPEC_PATH
) -> list[str]:
    """The `schemathesis run` command line of a run: never the token, which the config reads from the environment."""
    args = ["--config-file", str(config), "run", str(spec), "--url", base_url, "--checks", "all"]
    args += ["--exclude-checks", ",".join(sorted(NOT_APPLICABLE)), "--max-examples", str(options.max_examples)]
    args += ["--phases", options.phases, "--workers", str(options.workers), "--mode", options.mode]
    # Nothing learned is kept between runs (no `.hypothesis/` in the current folder): a seed alone decides a run.
    args += ["--generation-database", "none"]
    if options.seed is not None:
        args += ["--seed", str(options.seed)]
    if len(operation_ids) < len(spec_operations()):
        for operation_id in operation_ids:
            args += ["--include-operation-id", operation_id]
    if options.rate:
        args += ["--rate-limit", f"{options.rate:g}/s"]
    formats = []
    for report in options.reports:
        kind, _, path = report.partition("=")
        if kind not in ("junit", "har") or not path:
            raise UsageError(f"--report takes junit=PATH or har=PATH, not {report!r}")
        formats.append(kind)
        args += [f"--report-{kind}-path", str(Path(path).resolve())]
    if formats:
        args += ["--report", ",".join(formats)]
    return args


def plan(base_url: str, options: CheckOptions) -> tuple[CheckOptions, list[str], list[str]]:
    """The options as the run uses them, the operations it checks and notes for the user; usage errors raised."""
    unknown = set(options.phases.split(",")) - set(PHASES)
    if unknown:
        raise UsageError(f"--phases takes a subset of {','.join(PHASES)}; unknown: {','.join(sorted(unknown))}")
    if options.mode not in MODES:
        raise UsageError(f"--mode takes one of {', '.join(MODES)}, not {options.mode!r}")
    read_only = not is_loopback(base_url) if options.read_only is None else options.read_only
    try:
        operation_ids = select(
            include_operation=options.include_operation,
            include_tag=options.include_tag,
            exclude_operation=options.exclude_operation,
            read_only=read_only,
            reference_only=options.reference_only,
        )
    except SelectionError as error:
        raise UsageError(str(error)) from None
    notes = []
    phases = options.phases.split(",")
    if "stateful" in phases and not has_links(operation_ids):
        phases.remove("stateful")
        notes.append("Stateful phase skipped: the chosen operations have no links between them.")
        if not phases:
            raise UsageError("--phases stateful: the chosen operations have no links between them")
    return replace(options, read_only=read_only, phases=",".join(phases)), operation_ids, notes


def cleanup(base_url: str, token: str, log: Path, output: TextIO | None = None) -> None:
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
    click.echo(f"Cleanup: deleted what {len(created) - len(left)} of {len(created)} creating calls made.", file=output)
    if left:
        click.echo("Left behind (no delete operation or the delete failed): " + ", ".join(left[:20]), file=output)


def run_check(base_url: str, token: str, options: CheckOptions = CheckOptions(), output: TextIO | None = None) -> int:
    """Check `base_url` against the spec, as `fintesk-mock check` does, and return its exit code: 0 conformant,
    1 violations, 2 a usage or connection error, 130 interrupted. Usage errors raise `UsageError` (exit code 2).
    Everything is printed to `output` (default: this process's stdout)."""
    base_url = base_url.rstrip("/")
    options, operation_ids, notes = plan(base_url, options)
    probe(base_url, token)
    mode = "read-only (GET)" if options.read_only else "reads and writes"
    operations = f"{len(operation_ids)} operation{'' if len(operation_ids) == 1 else 's'}"
    click.echo(
        f"Checking {base_url} against {SPEC_PATH.name}: {operations}, {mode}, "
        f"{options.max_examples} examples per operation, {options.mode} data.",
        file=output,
    )
    for note in notes:
        click.echo(note, file=output)
    with tempfile.TemporaryDirectory(prefix="fintesk-check-") as folder:
        created = Path(folder) / "created.jsonl"
        spec = strict_spec(Path(folder)) if options.strict else SPEC_PATH
        args = schemathesis_args(base_url, config_file(Path(folder), options.strict), options, operation_ids, spec)
        env = {**os.environ, "FINTESK_CHECK_TOKEN": token, "SCHEMATHESIS_HOOKS": "contract_tests.hooks",
               "FINTESK_CHECK_CREATED": str(created), "PYTHONPATH": python_path()}  # fmt: skip
        env.pop("FINTESK_CHECK_OTHER_TOKEN", None)
        if options.other_token:
            env["FINTESK_CHECK_OTHER_TOKEN"] = options.other_token
        # Schemathesis runs in its own process, from a folder of its own, so that nothing lands in the caller's.
        command = [sys.executable, "-m", "schemathesis.cli", *args]
        piped = subprocess.PIPE if output is not None else None
        process = subprocess.Popen(
            command, env=env, cwd=folder, stdout=piped, stderr=subprocess.STDOUT if piped else None, text=True
        )
        try:
            if process.stdout is not None and output is not None:
                for line in process.stdout:
                    output.write(line)
            code = process.wait()
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            process.wait()
            code = 130
        finally:
            if not options.read_only:
                cleanup(base_url, token, created, output)
    return code if code in (0, 1, 130) else 2


@click.command()
@click.option(
    "--base-url", envvar="FINTESK_CHECK_BASE_URL", required=True, help="The API base, e.g. http://127.0.0.1:8080/v1."
)
@click.option("--token", envvar="FINTESK_CHECK_TOKEN", required=True, help="API token (or FINTESK_CHECK_TOKEN).")
@click.option(
    "--include-operation",
    envvar="FINTESK_CHECK_INCLUDE_OPERATION",
    multiple=True,
    help="Only this operationId (repeatable).",
)
@click.option(
    "--include-tag",
    envvar="FINTESK_CHECK_INCLUDE_TAG",
    multiple=True,
    help="Only operations with this tag (repeatable).",
)
@click.option(
    "--exclude-operation",
    envvar="FINTESK_CHECK_EXCLUDE_OPERATION",
    multiple=True,
    help="Skip this operationId (repeatable).",
)
@click.option(
    "--max-examples", envvar="FINTESK_CHECK_MAX_EXAMPLES", default=20, show_default=True, type=click.IntRange(min=1)
)
@click.option(
    "--seed",
    envvar="FINTESK_CHECK_SEED",
    type=int,
    help="Seed of the generated data: the same seed repeats a run, another explores further.",
)
@click.option(
    "--phases",
    envvar="FINTESK_CHECK_PHASES",
    default=",".join(PHASES),
    show_default=True,
    help="Comma-separated subset of the phases.",
)
@click.option(
    "--mode",
    envvar="FINTESK_CHECK_MODE",
    default="all",
    show_default=True,
    type=click.Choice(MODES),
    help="Generate valid data (positive), invalid data (negative) or both.",
)
@click.option("--workers", envvar="FINTESK_CHECK_WORKERS", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--report", "reports", envvar="FINTESK_CHECK_REPORT", multiple=True, help="junit=PATH or har=PATH (repeatable)."
)
@click.option(
    "--read-only/--allow-writes",
    envvar="FINTESK_CHECK_READ_ONLY",
    default=None,
    help="GET only; the default against non-loopback URLs.",
)
@click.option(
    "--reference-only",
    envvar="FINTESK_CHECK_REFERENCE_ONLY",
    is_flag=True,
    default=False,
    help="Only the reference's own operations: leave out those marked x-beyond-reference in the spec.",
)
@click.option(
    "--rate", envvar="FINTESK_CHECK_RATE", type=click.FloatRange(min=0.1), help="At most this many requests per second."
)
@click.option("--other-token", envvar="FINTESK_CHECK_OTHER_TOKEN", help="A second token, to check tenant isolation.")
@click.option(
    "--strict",
    envvar="FINTESK_CHECK_STRICT",
    is_flag=True,
    help="Ask the mock to refuse body fields an operation does not define, and check that it does (mock only).",
)
def check(base_url: str, token: str, **options: Any) -> None:
    """Check an endpoint against spec/openapi.yaml. Exit 0 conformant, 1 violations, 2 usage or connection error."""
    # `options` holds the remaining options exactly as CheckOptions names them.
    raise SystemExit(run_check(base_url, token, CheckOptions(**options)))
