"""`fintesk-mock parity --target URL`: how faithful the mock is to one account, request by request.

A snapshot of the target (as `fintesk-mock snapshot` takes it) seeds a mock in this process; the same requests go
to both, and every difference of status and body is reported, once what may rightly differ is set aside (times,
the values computed from the clock, the ids of records a scenario creates, and anything named with `--ignore`).
The default requests are a read-only tour of the spec: every GET operation, a page of each list, a read of a
record that exists and of one that cannot.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, TextIO

import click
import httpx
import yaml

from contract_tests.checks import VOLATILE
from contract_tests.runner import UsageError, is_loopback, mask
from mock_server import SPEC_PATH, __version__
from mock_server.data.fixtures import SAFE_LOADER, FixtureError
from mock_server.data.pacing import ATTEMPTS, Pacer, Source, SourceError, header_number

PREFIX = "/v1"
METHODS = ("get", "put", "post", "delete", "patch")
# How far past the largest id of a list the read of a record that cannot exist goes.
BEYOND = 1_000_000
# A page of every list that takes one: not the first item, and a page short enough to have a successor.
SMALL_PAGE = {"start": 1, "limit": 2}
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
DEFAULT_RATE = 5.0  # requests per second to a target that is not on this machine
MAX_SHOWN = 20  # differences shown per request
REFERENCE = re.compile(r"\{(\w+)\}")
NUMBER = re.compile(r"\b\d+\b")


@dataclass
class Step:
    """One request of a parity run; `{name}` in its path, query or body stands for the id a step saved as `name`."""

    method: str
    path: str
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    save: str | None = None
    operation: str = ""

    @property
    def label(self) -> str:
        query = str(httpx.QueryParams(self.query))
        return f"{self.method} {self.path}" + (f"?{query}" if query else "")


@dataclass
class Outcome:
    step: Step
    target_status: int
    mock_status: int
    differences: list[str]


# The spec's operations: what the tour is made of.


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    template: str
    parameters: tuple[dict[str, Any], ...]


def spec_operations(spec: dict[str, Any] | None = None) -> list[Operation]:
    spec = spec or yaml.load(SPEC_PATH.read_text(encoding="utf-8"), Loader=SAFE_LOADER)

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            found: Any = spec
            for part in node["$ref"].lstrip("#/").split("/"):
                found = found[part]
            node = found
        return node

    operations = []
    for template, item in spec["paths"].items():
        for method, raw in item.items():
            if method not in METHODS:
                continue
            parameters = tuple(resolve(p) for p in [*item.get("parameters", []), *raw.get("parameters", [])])
            parameters = tuple({**p, "schema": resolve(p.get("schema", {}))} for p in parameters)
            operations.append(Operation(raw["operationId"], method.upper(), template, parameters))
    return operations


def fill(parameter: dict[str, Any], today: str, given: dict[str, str]) -> Any:
    """A value of a required parameter: `--param`, else the spec's example, default or first choice, else one of
    its type (today for a date, the least allowed number, two letters for a text)."""
    name, schema = parameter["name"], parameter.get("schema", {})
    if name in given:
        return given[name]
    for value in (parameter.get("example"), schema.get("example"), schema.get("default")):
        if value is not None:
            return value
    if schema.get("enum"):
        return schema["enum"][0]
    if schema.get("format") == "date":
        return today
    if schema.get("type") in ("integer", "number"):
        return schema.get("minimum", 1)
    return "de"


def tour(operations: list[Operation], first_ids: Callable[[str], list[int]], given: dict[str, str]) -> list[Step]:
    """Every GET of the spec, in its order: as it is (required parameters filled), a short page where it takes
    `start` and `limit`, and where it reads one record, that record (the first its list shows) and one that cannot
    exist. `first_ids(path)` is the ids the list at `path` answers; an operation whose list is empty is left out."""
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    listed = {operation.template for operation in operations if operation.method == "GET"}
    steps: list[Step] = []
    for operation in operations:
        if operation.method != "GET":
            continue
        query = {p["name"]: fill(p, today, given) for p in operation.parameters
                 if p.get("in") == "query" and p.get("required")}  # fmt: skip
        path, unknown = _record_path(operation.template, listed, first_ids, given)
        if path is None:
            continue
        steps.append(Step("GET", path, query, operation=operation.operation_id))
        names = {p["name"] for p in operation.parameters if p.get("in") == "query"}
        if {"start", "limit"} <= names:
            steps.append(Step("GET", path, {**query, **SMALL_PAGE}, operation=operation.operation_id))
        if unknown is not None:
            steps.append(Step("GET", unknown, query, operation=operation.operation_id))
    return steps


def _record_path(
    template: str, listed: set[str], first_ids: Callable[[str], list[int]], given: dict[str, str]
) -> tuple[str | None, str | None]:
    """The template with each path parameter set to the first id of the list before it (`/deals/{id}/flow`: the
    first of `/deals`), and the same path with its last id one that cannot exist; (None, None) when no list
    names a record."""
    parts = template.split("/")
    unknown = None
    for index, part in enumerate(parts):
        match = re.fullmatch(r"\{(\w+)\}", part)
        if match is None:
            continue
        name = match.group(1)
        parent = "/".join(parts[:index])
        if name in given:
            parts[index] = given[name]
            continue
        if "{" in parent or parent not in listed:
            return None, None
        ids = first_ids(parent)
        if not ids:
            return None, None
        parts[index] = str(ids[0])
        unknown = (index, max(ids) + BEYOND)
    path = "/".join(parts)
    if unknown is None:
        return path, None
    index, value = unknown
    return path, "/".join([*parts[:index], str(value), *parts[index + 1 :]])


# The two sides.


class Target:
    """The endpoint under comparison: every request paced, a 429 waited out and tried again."""

    def __init__(self, base_url: str, token: str, pacer: Pacer) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.pacer = pacer
        self.client = httpx.Client(timeout=60, headers={"user-agent": f"fintesk-mock-parity/{__version__}"})

    def send(self, step: Step) -> httpx.Response:
        for _attempt in range(ATTEMPTS):
            self.pacer.wait()
            try:
                response = self.client.request(step.method, self.base_url + step.path, params=step.query or None,
                                               json=step.body, headers={"x-api-token": self.token})  # fmt: skip
            except httpx.HTTPError as error:
                raise SourceError(
                    f"cannot reach {self.base_url}: {type(error).__name__}: {mask(str(error), self.token)}"
                ) from None
            self.pacer.observe(response.status_code, response.headers)
            if response.status_code != 429 or header_number(response.headers, "x-daily-requests-left") == 0:
                return response
        return response

    def close(self) -> None:
        self.client.close()


@contextlib.contextmanager
def mock_of(fixtures: Path) -> Iterator[Any]:
    """A test client of a mock seeded with `fixtures`, in this process."""
    from mock_server.app import create_app
    from mock_server.settings import Settings

    app = create_app(Settings(fixtures=fixtures))
    with app.test_client() as client:
        yield client


# Comparing two answers.


def normalised(value: Any, ids: dict[int, str], key: str | None = None) -> Any:
    """`value` with what may rightly differ replaced by a placeholder: times, values computed from the clock and
    the ids of records the run created (by the name the scenario saved them as)."""
    if key in VOLATILE:
        return "<computed>"
    if isinstance(value, dict):
        return {k: normalised(v, ids, k) for k, v in value.items()}
    if isinstance(value, list):
        return [normalised(item, ids) for item in value]
    if isinstance(value, str):
        if TIME.match(value):
            return "<time>"
        if ids:  # an error message naming a created record ("Activity with id 122 not found.")
            return NUMBER.sub(lambda m: f"<{ids[int(m.group())]}>" if int(m.group()) in ids else m.group(), value)
    if isinstance(value, int) and not isinstance(value, bool) and value in ids:
        return f"<{ids[value]}>"
    return value


def differences(target: Any, mock: Any, ignore: tuple[str, ...], path: tuple[str, ...] = ()) -> Iterator[str]:
    """Where `mock` differs from `target`, as `path: target … mock …` lines; paths matching `ignore` are skipped."""
    if _ignored(path, ignore):
        return
    where = ".".join(path) or "body"
    if isinstance(target, dict) and isinstance(mock, dict):
        for key in [*target, *(k for k in mock if k not in target)]:
            if key not in mock:
                if not _ignored((*path, key), ignore):
                    yield f"{where}.{key}: only the target has it ({_short(target[key])})"
            elif key not in target:
                if not _ignored((*path, key), ignore):
                    yield f"{where}.{key}: only the mock has it ({_short(mock[key])})"
            else:
                yield from differences(target[key], mock[key], ignore, (*path, key))
    elif isinstance(target, list) and isinstance(mock, list):
        if len(target) != len(mock):
            yield f"{where}: {len(target)} items at the target, {len(mock)} at the mock"
        for index, (left, right) in enumerate(zip(target, mock, strict=False)):
            yield from differences(left, right, ignore, (*path, str(index)))
    elif target != mock or type(target) is not type(mock):
        yield f"{where}: target {_short(target)}, mock {_short(mock)}"


def _ignored(path: tuple[str, ...], ignore: tuple[str, ...]) -> bool:
    """Whether a pattern (`data.*.update_time`, `related_objects`) names `path` or a part of the body above it."""
    for pattern in ignore:
        parts = pattern.split(".")
        anywhere = parts[0] == "**"
        parts = parts[1:] if anywhere else parts
        for offset in range(len(path) - len(parts) + 1 if anywhere else min(1, len(path) - len(parts) + 1)):
            if all(fnmatchcase(p, q) for p, q in zip(path[offset:], parts, strict=False)):
                return True
    return False


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


def body_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


# A run.


@dataclass
class ParityOptions:
    scenario: Path | None = None
    allow_writes: bool = False
    ignore: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    rate: float | None = None
    junit: Path | None = None
    fixtures: Path | None = None


def load_scenario(path: Path, allow_writes: bool) -> list[Step]:
    """The steps of a scenario file: a YAML (or JSON) list of {method, path, query?, body?, save?}."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except (OSError, yaml.YAMLError) as error:
        raise UsageError(f"--scenario {path}: cannot read it: {error}") from None
    if not isinstance(raw, list) or not raw:
        raise UsageError(f"--scenario {path}: must be a list of steps, each with a method and a path")
    steps = []
    for number, entry in enumerate(raw, 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise UsageError(f"--scenario {path}: step {number} needs a `path` (under the API base, like /deals)")
        method = str(entry.get("method", "GET")).upper()
        if method not in {m.upper() for m in METHODS}:
            raise UsageError(f"--scenario {path}: step {number}: unknown method {method}")
        if method != "GET" and not allow_writes:
            raise UsageError(
                f"--scenario {path}: step {number} is a {method}: a scenario that writes needs --allow-writes"
            )
        query = entry.get("query") or {}
        if not isinstance(query, dict):
            raise UsageError(f"--scenario {path}: step {number}: `query` must be a mapping")
        save = entry.get("save")
        steps.append(Step(method, entry["path"], dict(query), entry.get("body"), str(save) if save else None))
    return steps


def _substituted(value: Any, saved: dict[str, int]) -> Any:
    """`value` with each `{name}` of a saved id replaced by that id (a whole `{name}` string becomes the number)."""
    if isinstance(value, str):
        whole = REFERENCE.fullmatch(value)
        if whole and whole.group(1) in saved:
            return saved[whole.group(1)]
        return REFERENCE.sub(lambda m: str(saved.get(m.group(1), m.group(0))), value)
    if isinstance(value, dict):
        return {key: _substituted(item, saved) for key, item in value.items()}
    if isinstance(value, list):
        return [_substituted(item, saved) for item in value]
    return value


def _side(step: Step, saved: dict[str, int]) -> Step:
    return Step(step.method, _substituted(step.path, saved), _substituted(step.query, saved),
                _substituted(step.body, saved), step.save, step.operation)  # fmt: skip


def compare(steps: list[Step], target: Target, mock: Any, token: str, ignore: tuple[str, ...]) -> list[Outcome]:
    """Send every step to both sides, in order, and keep each one's differences."""
    saved: dict[str, dict[str, int]] = {"target": {}, "mock": {}}
    outcomes = []
    for step in steps:
        sent = {"target": _side(step, saved["target"]), "mock": _side(step, saved["mock"])}
        theirs = target.send(sent["target"])
        ours = mock.request(step.method, PREFIX + sent["mock"].path, params=sent["mock"].query or None,
                            json=sent["mock"].body, headers={"x-api-token": token})  # fmt: skip
        bodies = {"target": body_of(theirs), "mock": body_of(ours)}
        if step.save:
            for side, body in bodies.items():
                data = body.get("data") if isinstance(body, dict) else None
                if isinstance(data, dict) and isinstance(data.get("id"), int):
                    saved[side][step.save] = data["id"]
        found = []
        if theirs.status_code != ours.status_code:
            found.append(f"status: target {theirs.status_code}, mock {ours.status_code}")
        names = {side: {number: name for name, number in saved[side].items()} for side in saved}
        left, right = normalised(bodies["target"], names["target"]), normalised(bodies["mock"], names["mock"])
        found += differences(left, right, ignore)
        outcomes.append(Outcome(step, theirs.status_code, ours.status_code, found))
    return outcomes


def run_parity(base_url: str, token: str, options: ParityOptions, output: TextIO | None = None) -> int:
    """Compare the mock with `base_url` as `fintesk-mock parity` does; 0 no difference, 1 differences."""
    base_url = base_url.rstrip("/")
    given = _params(options.params)
    steps = load_scenario(options.scenario, options.allow_writes) if options.scenario else None
    rate = rate_for(base_url, options.rate)
    pacer = Pacer(rate)
    pace = f"at most {rate:g} requests/s" if rate else "unpaced (a loopback target)"
    click.echo(f"Parity of the mock with {base_url}: {pace}.", file=output)
    target = Target(base_url, token, pacer)
    try:
        with tempfile.TemporaryDirectory(prefix="fintesk-parity-") as folder:
            fixtures = options.fixtures or _snapshot(base_url, token, pacer, Path(folder) / "fixtures", output)
            if steps is None:
                steps = tour(spec_operations(), listed_ids(target), given)
            click.echo(f"Sending {len(steps)} requests to both.", file=output)
            with mock_of(fixtures) as mock:
                outcomes = compare(steps, target, mock, token, options.ignore)
    except SourceError as error:
        raise UsageError(str(error)) from None
    except FixtureError as error:
        raise UsageError(f"the snapshot of {base_url} does not load as fixtures: {error}") from None
    finally:
        target.close()
    report(outcomes, output)
    if options.junit is not None:
        write_junit(outcomes, options.junit, base_url)
    return 1 if any(outcome.differences for outcome in outcomes) else 0


def rate_for(base_url: str, rate: float | None) -> float | None:
    """Requests per second to the target: as given, else unpaced on loopback and 5 a second (as `snapshot`) else."""
    if rate is not None:
        return rate
    return None if is_loopback(base_url) else DEFAULT_RATE


def listed_ids(target: Target) -> Callable[[str], list[int]]:
    """The ids the list at a path answers on the target, asked once per path."""
    known: dict[str, list[int]] = {}

    def ids(path: str) -> list[int]:
        if path not in known:
            response = target.send(Step("GET", path, {"limit": 500}))
            data = body_of(response).get("data") if response.status_code == 200 else None
            known[path] = [item["id"] for item in data or []
                           if isinstance(item, dict) and isinstance(item.get("id"), int)]  # fmt: skip
        return known[path]

    return ids


def _snapshot(base_url: str, token: str, pacer: Pacer, out: Path, output: TextIO | None) -> Path:
    from mock_server.data import snapshot as snapshots
    from mock_server.data.progress import Lines

    source = Source(base_url, token, pacer)
    try:
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        taken = snapshots.snapshot(source, out, force=False, progress=Lines(), now=now, deal_persons=True)
    finally:
        source.close()
    click.echo(f"Snapshot taken with {source.requests} GET requests; the mock is seeded with it.", file=output)
    click.echo("Not readable through the API, so set to a default (a source of differences):", file=output)
    for line in taken.defaults:
        click.echo(f"  - {line}", file=output)
    return out


def _params(given: tuple[str, ...]) -> dict[str, str]:
    values = {}
    for item in given:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise UsageError(f"--param takes NAME=VALUE, not {item!r}")
        values[name] = value
    return values


def report(outcomes: list[Outcome], output: TextIO | None = None) -> None:
    """A table of requests and differing requests per operation, then each difference."""
    rows: dict[str, list[int]] = {}
    for outcome in outcomes:
        row = rows.setdefault(outcome.step.operation or outcome.step.method + " " + outcome.step.path, [0, 0])
        row[0] += 1
        row[1] += bool(outcome.differences)
    width = max([len(name) for name in rows] + [len("operation")])
    click.echo("", file=output)
    click.secho("Parity: requests and requests that differ per operation", bold=True, file=output)
    click.echo(f"  {'operation'.ljust(width)}  {'requests':>8}  {'differ':>6}", file=output)
    for name, (count, differing) in rows.items():
        click.secho(f"  {name.ljust(width)}  {count:>8}  {differing:>6}", fg="red" if differing else None, file=output)
    total = sum(bool(outcome.differences) for outcome in outcomes)
    click.echo(f"  {'total'.ljust(width)}  {len(outcomes):>8}  {total:>6}", file=output)
    for outcome in outcomes:
        if not outcome.differences:
            continue
        click.echo(f"\n{outcome.step.label} ({outcome.step.operation or 'scenario'}):", file=output)
        for line in outcome.differences[:MAX_SHOWN]:
            click.echo(f"  - {line}", file=output)
        if len(outcome.differences) > MAX_SHOWN:
            click.echo(f"  … and {len(outcome.differences) - MAX_SHOWN} more", file=output)
    verdict = "no difference" if not total else f"{total} of {len(outcomes)} requests differ"
    click.echo(f"\nParity: {verdict}.", file=output)


def write_junit(outcomes: list[Outcome], path: Path, base_url: str) -> None:
    failures = sum(bool(outcome.differences) for outcome in outcomes)
    suite = ET.Element("testsuite", name=f"parity with {base_url}", tests=str(len(outcomes)),
                       failures=str(failures), errors="0")  # fmt: skip
    for outcome in outcomes:
        case = ET.SubElement(suite, "testcase", classname=outcome.step.operation or "scenario", name=outcome.step.label)
        if outcome.differences:
            failure = ET.SubElement(case, "failure", message=outcome.differences[0])
            failure.text = "\n".join(outcome.differences)
    suites = ET.Element("testsuites", tests=str(len(outcomes)), failures=str(failures))
    suites.append(suite)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


@click.command()
@click.option(
    "--target",
    envvar="FINTESK_CHECK_BASE_URL",
    required=True,
    help="The API base to compare with, e.g. https://yourcompany.fintesk.com/api/v1.",
)
@click.option("--token", envvar="FINTESK_CHECK_TOKEN", required=True, help="API token (or FINTESK_CHECK_TOKEN).")
@click.option(
    "--scenario",
    envvar="FINTESK_PARITY_SCENARIO",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Send these requests (a YAML list) instead of the read-only tour.",
)
@click.option(
    "--allow-writes",
    envvar="FINTESK_PARITY_ALLOW_WRITES",
    is_flag=True,
    help="Let --scenario write (POST, PUT, PATCH, DELETE) to the target.",
)
@click.option(
    "--ignore",
    envvar="FINTESK_PARITY_IGNORE",
    multiple=True,
    help="A body path to leave out of the comparison, like data.*.owner_name (repeatable).",
)
@click.option(
    "--param",
    "params",
    envvar="FINTESK_PARITY_PARAM",
    multiple=True,
    help="NAME=VALUE for a parameter the tour must fill, like term=Acme (repeatable).",
)
@click.option(
    "--rate",
    envvar="FINTESK_CHECK_RATE",
    type=click.FloatRange(min=0.1),
    help="At most this many requests per second to the target (default: 5 unless it is loopback).",
)
@click.option(
    "--junit",
    envvar="FINTESK_PARITY_JUNIT",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a JUnit XML report here: a test case per request.",
)
@click.option(
    "--fixtures",
    envvar="FINTESK_PARITY_FIXTURES",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Seed the mock with this fixture folder instead of a snapshot of the target.",
)
def parity(target: str, token: str, **options: Any) -> None:
    """Send the same requests to TARGET and to a mock seeded with its snapshot; report every difference.
    Exit 0 no difference, 1 differences, 2 usage or connection error."""
    raise SystemExit(run_parity(target, token, ParityOptions(**options)))
