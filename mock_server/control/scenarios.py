"""Named scenarios: a fixture set, changes to it, faults and a rate limit, read from fixtures/scenarios/<name>.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mock_server import DEFAULT_FIXTURES, FIXTURES_ROOT
from mock_server.data.fixtures import (
    RESOURCES,
    SAFE_LOADER,
    SCHEMAS,
    FixtureError,
    _check_references,
    _validate,
    load,
    record_label,
)
from mock_server.data.generate import generate_account
from mock_server.domain.account import FixtureSet

FIXTURES_DIR = FIXTURES_ROOT
SCENARIOS_DIR = FIXTURES_DIR / "scenarios"
SUFFIX = ".yaml"

# What `control.faults.Faults.add` accepts; checked here too so a bad scenario fails when read, naming the file.
FAULT_KINDS = ("status", "delay", "truncate", "non_json", "drop")
FAULT = {
    "type": "object",
    "required": ["kind"],
    "additionalProperties": False,
    "properties": {
        "kind": {"enum": list(FAULT_KINDS)},
        "method": {"type": "string", "pattern": "^(?i:GET|PUT|POST|DELETE|PATCH|HEAD|OPTIONS|TRACE|\\*)$"},
        "path": {"type": "string", "pattern": "^(/v1|\\*)"},
        "tenant": {"type": ["string", "null"], "minLength": 1},
        "status": {"type": "integer", "minimum": 200, "maximum": 599},
        "code": {"type": ["string", "null"], "minLength": 1},
        "message": {"type": ["string", "null"], "minLength": 1},
        "delay_ms": {"type": "integer", "minimum": 0, "maximum": 300_000},
        "times": {"type": ["integer", "null"], "minimum": 1},
        "probability": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
    },
}
COUNT = {"type": "integer", "minimum": 0}
SCENARIO = {
    "type": "object",
    "required": ["description"],
    "properties": {
        "description": {"type": "string", "minLength": 1, "pattern": "^[^\\n]*$"},
        "fixtures": {"type": "string", "minLength": 1},
        "generate": {
            "type": "object",
            "required": ["deals"],
            "additionalProperties": False,
            "properties": {
                "deals": COUNT,
                "seed": {"type": "integer"},
                "activities_per_deal": COUNT,
                "products_per_deal": COUNT,
            },
        },  # fmt: skip
        "changes": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "object", "required": ["id"]}},
        },
        "rate_limit": {"type": ["integer", "null"], "minimum": 0},
        "faults": {"type": "array", "items": FAULT},
    },
}
FIELDS = ("description", "fixtures", "generate", "changes", "rate_limit", "faults")


class UnknownScenario(FixtureError):
    """No scenario file has this name; the message lists the names there are."""


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str  # one line, used by `fintesk-mock scenarios` and docs/edge-cases.md
    fixture: FixtureSet  # the data tenants start from under this scenario
    faults: list[dict[str, Any]]  # specs for mock_server.control.faults.Faults.add
    rate_limit: int | None  # requests per 2 s per token (0 = off), or None to leave it as it is


def scenario_names(folder: Path = SCENARIOS_DIR) -> list[tuple[str, str]]:
    """Every scenario in `folder` as (name, description), sorted by name."""
    return [(path.stem, _document(path)["description"]) for path in _files(folder)]


def load_scenario(name: str, folder: Path = SCENARIOS_DIR) -> Scenario:
    path = Path(folder) / f"{name}{SUFFIX}"
    if "/" in name or "\\" in name or not path.is_file():
        known = ", ".join(file.stem for file in _files(folder)) or "none"
        raise UnknownScenario(f"There is no scenario named {name!r}; the scenarios are: {known}.")
    document = _document(path)
    base = _base(path, document)
    generate = document.get("generate")
    if generate is not None:
        base = generate_account(base, **generate)
    fixture = _apply_changes(path, base, document.get("changes") or {})
    return Scenario(
        name=name,
        description=document["description"],
        fixture=fixture,
        faults=[dict(spec) for spec in document.get("faults") or []],
        rate_limit=document.get("rate_limit"),
    )


def _files(folder: Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise FixtureError(f"{folder}: no such scenario folder.")
    return sorted(folder.glob(f"*{SUFFIX}"))


def _document(path: Path) -> dict[str, Any]:
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise FixtureError(f"{path}: cannot be read: {error}") from None
    if not isinstance(document, dict):
        raise FixtureError(f"{path}: a scenario is a mapping with at least a 'description'.")
    unknown = sorted(set(document) - set(FIELDS))
    if unknown:
        raise FixtureError(f"{path}: field '{unknown[0]}' is not a scenario field; the fields are {', '.join(FIELDS)}.")
    unknown_resources = sorted(set(document.get("changes") or {}) - set(RESOURCES))
    if unknown_resources:
        raise FixtureError(
            f"{path}: field 'changes.{unknown_resources[0]}' is not a resource; "
            f"the resources are {', '.join(RESOURCES)}."
        )
    _validate(path, SCENARIO, document, "scenario")
    return document


def _base(path: Path, document: Mapping[str, Any]) -> FixtureSet:
    name = document.get("fixtures")
    if name is None:
        return load(DEFAULT_FIXTURES)
    # A scenario folder may sit beside fixture sets of its own; otherwise the project's fixture sets are meant.
    for candidate in (path.parent.parent / name, FIXTURES_DIR / name):
        if candidate.is_dir() and candidate.resolve() != path.parent.resolve():
            return load(candidate)
    folders = ", ".join(sorted(child.name for child in FIXTURES_DIR.iterdir() if (child / "deals.yaml").exists()))
    raise FixtureError(f"{path}: field 'fixtures': there is no fixture folder {name!r}; the folders are: {folders}.")


def _apply_changes(path: Path, base: FixtureSet, changes: Mapping[str, list[dict[str, Any]]]) -> FixtureSet:
    """Each changed record replaces the base record with its id, or is appended; then references are checked."""
    records = dict(base.records)
    for resource, changed in changes.items():
        where = f"changes.{resource}"
        seen: set[int] = set()
        for position, item in enumerate(changed):
            label = f"{where}: {record_label(position, item)}"
            _validate(path, SCHEMAS[resource], item, label)
            if item["id"] in seen:
                raise FixtureError(f"{path}: {label}: field 'id': id {item['id']} is changed twice.")
            seen.add(item["id"])
        by_id = {item["id"]: item for item in changed}
        kept = [by_id.pop(item["id"], item) for item in records[resource]]
        records[resource] = kept + [item for item in changed if item["id"] in by_id]
    _check_references({name: f"{path}: {name}" for name in ("company", *RESOURCES)}, base.company, records)
    return FixtureSet(path, base.company, records)
