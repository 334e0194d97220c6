"""Load a fixture set (one YAML or JSON file per resource), check every record, and fail loudly and precisely."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from operator import itemgetter
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml
from jsonschema import Draft202012Validator

from mock_server.domain.account import FixtureSet

DATETIME = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"}
DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
TIME = {"type": "string", "pattern": r"^\d{2}:\d{2}$"}
INT = {"type": "integer"}
NUM = {"type": "number"}
STR = {"type": "string"}
BOOL = {"type": "boolean"}
RATE = {"type": "number", "exclusiveMinimum": 0, "minimum": 1e-9, "maximum": 1e9}
# Amounts the API accepts (see spec/openapi.yaml): bounded so that any number of them totals and converts finitely.
AMOUNT = {"type": "number", "minimum": -1e15, "maximum": 1e15}
CONTACTS = {
    "type": "array",
    "items": {"type": "object", "required": ["value", "primary"], "properties": {"value": STR, "primary": BOOL}},
}
CONDITIONS = {
    "type": "object",
    "required": ["glue", "conditions"],
    "properties": {
        "glue": {"enum": ["and"]},
        "conditions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["glue", "conditions"],
                "properties": {
                    "glue": {"enum": ["and", "or"]},
                    "conditions": {
                        "type": "array",
                        "items": {"type": "object", "required": ["object", "field_id", "operator"]},
                    },
                },
            },
        },
    },
}
FIELD_TYPES = ["date", "daterange", "double", "enum", "monetary", "org", "person", "phone", "set", "text", "time",
               "timerange", "user", "varchar", "int", "stage", "status", "address", "visible_to"]  # fmt: skip


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def record(**properties: dict[str, Any]) -> dict[str, Any]:
    """`id` and every listed key are required; records may carry more (custom field values on deals)."""
    return {"type": "object", "required": sorted({"id", *properties}), "properties": {"id": INT, **properties}}


FIELD = record(id=INT, key=STR, name=STR, field_type={"enum": FIELD_TYPES}, order_nbr=INT,
               options=nullable({"type": "array", "items": {"type": "object", "required": ["id", "label"],
                                                            "properties": {"id": INT, "label": STR}}}),
               active_flag=BOOL, add_visible_flag=BOOL, edit_flag=BOOL, mandatory_flag=BOOL)  # fmt: skip

SCHEMAS: dict[str, dict[str, Any]] = {
    "users": record(name=STR, email=STR, active_flag=BOOL, default_currency=STR, add_time=DATETIME),
    "pipelines": record(name=STR, order_nbr=INT, active_flag=BOOL, deal_probability=INT),
    "stages": record(
        pipeline_id=INT,
        name=STR,
        order_nbr=INT,
        deal_probability=NUM,
        rotten_flag=BOOL,
        rotten_days=nullable(INT),
        active_flag=BOOL,
    ),  # fmt: skip
    "organizations": record(name=STR, address=nullable(STR), owner_id=INT, active_flag=BOOL, add_time=DATETIME),
    "persons": record(
        name=STR,
        email=CONTACTS,
        phone=CONTACTS,
        org_id=nullable(INT),
        owner_id=INT,
        active_flag=BOOL,
        add_time=DATETIME,
    ),  # fmt: skip
    "products": record(name=STR, code=nullable(STR), owner_id=INT, tax=NUM, prices={"type": "array"}),
    "currencies": record(
        code={"type": "string", "minLength": 3, "maxLength": 3},
        name=STR,
        symbol=STR,
        decimal_points=INT,
        is_custom_flag=BOOL,
        active_flag=BOOL,
    ),  # fmt: skip
    "deal_fields": FIELD,
    "activity_fields": FIELD,
    "person_fields": FIELD,
    "organization_fields": FIELD,
    "activity_types": record(
        name=STR,
        key_string=STR,
        icon_key=STR,
        color=nullable(STR),
        order_nbr=INT,
        is_custom_flag=BOOL,
        active_flag=BOOL,
    ),  # fmt: skip
    "deals": record(
        name=STR,
        value=AMOUNT,
        currency=STR,
        user_id=INT,
        creator_user_id=INT,
        person_id=nullable(INT),
        org_id=nullable(INT),
        pipeline_id=INT,
        stage_id=INT,
        status={"enum": ["open", "won", "lost", "deleted"]},
        probability=nullable(NUM),
        add_time=DATETIME,
        update_time=DATETIME,
        won_time=nullable(DATETIME),
        lost_time=nullable(DATETIME),
        close_time=nullable(DATETIME),
        first_won_time=nullable(DATETIME),
        stage_change_time=nullable(DATETIME),
        expected_close_date=nullable(DATE),
        active_flag=BOOL,
    ),  # fmt: skip
    "activities": record(
        subject=STR,
        type=STR,
        due_date=nullable(DATE),
        due_time=nullable(TIME),
        duration=nullable(TIME),
        user_id=INT,
        deal_id=nullable(INT),
        person_id=nullable(INT),
        org_id=nullable(INT),
        done={"enum": [0, 1]},
        marked_as_done_time=nullable(DATETIME),
        note=nullable(STR),
        active_flag=BOOL,
        add_time=DATETIME,
    ),  # fmt: skip
    "deal_products": record(
        deal_id=INT,
        product_id=INT,
        item_price=AMOUNT,
        quantity=AMOUNT,
        discount=AMOUNT,
        discount_type={"enum": ["percentage", "amount"]},
        duration=AMOUNT,
        tax=AMOUNT,
        tax_method={"enum": ["exclusive", "inclusive", "none"]},
        enabled_flag=BOOL,
        order_nbr=INT,
    ),  # fmt: skip
    "notes": record(content=STR, deal_id=nullable(INT), person_id=nullable(INT), org_id=nullable(INT), user_id=INT),
    "filters": record(
        name=STR,
        type={"enum": ["deals", "org", "persons", "products", "activity"]},
        user_id=INT,
        conditions=CONDITIONS,
        active_flag=BOOL,
    ),  # fmt: skip
    "product_fields": FIELD,
}
# Resources added after fixture folders and states were first written: one that leaves them out has none.
OPTIONAL = frozenset({"product_fields"})
COMPANY = {
    "type": "object",
    "required": ["id", "name", "default_currency", "api_user_id", "tokens", "exchange_rates"],
    "properties": {
        "id": INT,
        "api_user_id": INT,
        "tokens": {"type": "object", "additionalProperties": INT},
        "exchange_rates": {
            "type": "object",
            "required": ["base", "rates"],
            # A rate is a divisor when totals are converted: 0 or less has no meaning and would divide by zero, and
            # bounded rates keep every converted total finite.
            "properties": {"rates": {"type": "object", "additionalProperties": RATE}},
        },  # fmt: skip
    },
}
# (file, field, file the id must exist in)
REFERENCES = [
    ("stages", "pipeline_id", "pipelines"),
    ("organizations", "owner_id", "users"),
    ("persons", "org_id", "organizations"),
    ("persons", "owner_id", "users"),
    ("products", "owner_id", "users"),
    ("deals", "user_id", "users"),
    ("deals", "creator_user_id", "users"),
    ("deals", "person_id", "persons"),
    ("deals", "org_id", "organizations"),
    ("deals", "pipeline_id", "pipelines"),
    ("deals", "stage_id", "stages"),
    ("activities", "user_id", "users"),
    ("activities", "deal_id", "deals"),
    ("activities", "person_id", "persons"),
    ("activities", "org_id", "organizations"),
    ("deal_products", "deal_id", "deals"),
    ("deal_products", "product_id", "products"),
    ("notes", "deal_id", "deals"),
    ("notes", "person_id", "persons"),
    ("notes", "org_id", "organizations"),
    ("notes", "user_id", "users"),
    ("filters", "user_id", "users"),
]
RESOURCES = tuple(SCHEMAS)
# The C loader reads the same documents as yaml.safe_load, ten times faster.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FixtureError(Exception):
    """A fixture set that cannot be served; the message names the file, the record and the field."""


def load(folder: Path) -> FixtureSet:
    """The fixture set in `folder`, checked."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FixtureError(f"{folder}: no such fixture folder.")
    paths: dict[str, Path] = {}
    contents: dict[str, Any] = {}
    for name in ("company", *RESOURCES):
        paths[name], contents[name] = _read(folder, name)
    company = contents.pop("company")
    _check(paths, company, contents)
    return FixtureSet(folder, company, contents)


def validate(company: Any, records: Mapping[str, Any], source: str | Path) -> FixtureSet:
    """Check a fixture set held in memory (an import, a scenario) as strictly as one read from disk.

    Errors name `source`, the resource, the record and the field.
    """
    where: dict[str, str] = {name: f"{source}: {name}" for name in ("company", *RESOURCES)}
    missing = [resource for resource in RESOURCES if resource not in records and resource not in OPTIONAL]
    if missing:
        raise FixtureError(f"{source}: missing {', '.join(missing)}; a fixture set needs every resource.")
    contents = {resource: records.get(resource, []) for resource in RESOURCES}
    _check(where, company, contents)
    return FixtureSet(Path(str(source)), company, contents)


def _check(paths: Mapping[str, Path | str], company: Any, records: dict[str, Any]) -> None:
    _validate(paths["company"], COMPANY, company, "company")
    ids: dict[str, Ids] = {}
    for resource in RESOURCES:
        content = records[resource]
        if not isinstance(content, list):
            raise FixtureError(f"{paths[resource]}: expected a list of records, found {type(content).__name__}.")
        ids[resource] = _validate_records(paths[resource], resource, content)
    _check_references(paths, company, records, ids)


def _validate_records(path: Path | str, resource: str, content: list[Any]) -> Ids:
    """Every record valid and its id unique; answers the ids.

    The compiled validator checks a whole list hundreds of times faster than checking each record in Python; only
    a list it refuses is walked again, to name the first bad record and field. A list it accepts holds only objects
    with an id (the schemas require one)."""
    if all_valid(SCHEMAS[resource], content):
        ids: Ids = set()
        for part in _parts(content):
            ids.update(map(_ID, part))
        if len(ids) == len(content):
            return ids
    seen: set[Any] = set()
    for position, item in enumerate(content):
        label = record_label(position, item)
        _validate(path, SCHEMAS[resource], item, label)
        if item["id"] in seen:
            raise FixtureError(f"{path}: {label}: field 'id': id {item['id']} is used twice.")
        seen.add(item["id"])
    return seen


_ID = itemgetter("id")
# Records per call of the compiled validator, which holds the interpreter lock until it returns: an import is
# checked in a worker thread, and between two calls other requests get their turn.
PART = 500


Ids = set[Any]


def _parts(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), PART):
        yield items[start : start + PART]


def all_valid(schema: dict[str, Any], items: list[Any]) -> bool:
    """Whether every item is valid against `schema`, checked by the compiled validator a part at a time. False too
    for values it cannot read (a YAML date or timestamp): walking the items with `_validate` then names them."""
    validator = _list_validator(schema)
    try:
        return all(validator.is_valid(part) for part in _parts(items))
    except ValueError:
        return False


def _list_validator(schema: dict[str, Any]) -> jsonschema_rs.Draft202012Validator:
    entry = _LIST_VALIDATORS.get(id(schema))
    if entry is None or entry[0] is not schema:
        validator = jsonschema_rs.Draft202012Validator({"type": "array", "items": schema})
        entry = _LIST_VALIDATORS[id(schema)] = (schema, validator)
    return entry[1]


_LIST_VALIDATORS: dict[int, tuple[dict[str, Any], jsonschema_rs.Draft202012Validator]] = {}


def record_label(position: int, item: Any) -> str:
    """How errors name a record: its place in the file, and its id when it has one."""
    return f"record #{position + 1}" + (f" (id {item['id']})" if isinstance(item, dict) and "id" in item else "")


def _read(folder: Path, name: str) -> tuple[Path, Any]:
    for suffix in (".yaml", ".yml", ".json"):
        path = folder / f"{name}{suffix}"
        if path.exists():
            break
    else:
        if name in OPTIONAL:
            return folder / f"{name}.yaml", []
        raise FixtureError(f"{folder / (name + '.yaml')}: missing; a fixture set needs one file per resource.")
    try:
        return path, read(path)
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise FixtureError(f"{path}: cannot be read: {error}") from None


def read(path: Path) -> Any:
    """The values of a fixture file, JSON or YAML by its suffix."""
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=SAFE_LOADER)


def _validate(path: Path | str, schema: dict[str, Any], item: Any, label: str) -> None:
    validator = _validator(schema)
    if validator.is_valid(item):
        return
    error = next(iter(sorted(validator.iter_errors(item), key=lambda e: e.path)), None)
    if error is None:
        return
    field = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "required":
        field = str(error.message).split("'")[1]
    raise FixtureError(f"{path}: {label}: field '{field or '(record)'}': {error.message}")


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    # Building a validator costs far more than using one; schemas are module constants, so key them by identity.
    entry = _VALIDATORS.get(id(schema))
    if entry is None or entry[0] is not schema:
        entry = _VALIDATORS[id(schema)] = (schema, Draft202012Validator(schema))
    return entry[1]


_VALIDATORS: dict[int, tuple[dict[str, Any], Draft202012Validator]] = {}


def _check_references(
    paths: Mapping[str, Path | str],
    company: dict[str, Any],
    records: dict[str, list[dict[str, Any]]],
    ids: Mapping[str, Ids] | None = None,
) -> None:
    """Every reference names a record that exists (`ids`: each resource's record ids, when the caller has them).

    Records were checked against their schemas, so every field read here is present; each reference is checked for
    a whole list with set operations, and only a list that fails is walked to name its first bad record."""
    if ids is None:
        ids = {resource: set(map(_ID, items)) for resource, items in records.items()}
    # Each check reads a whole list a part at a time (see `PART`).
    nullable = {target: ids[target] | {None} for target in {target for _, _, target in REFERENCES}}
    for resource, field, target in REFERENCES:
        items = records[resource]
        if _all_in(nullable[target], field, items):
            continue
        known = ids[target]
        bad = next(item for item in items if item[field] is not None and item[field] not in known)
        raise FixtureError(
            f"{paths[resource]}: record id {bad['id']}: field '{field}': {target} has no record with id {bad[field]}."
        )
    codes = set(map(itemgetter("code"), records["currencies"]))
    for resource, field in (("deals", "currency"), ("users", "default_currency")):
        items = records[resource]
        if _all_in(codes, field, items):
            continue
        bad = next(item for item in items if item[field] not in codes)
        raise FixtureError(
            f"{paths[resource]}: record id {bad['id']}: field '{field}': currency {bad[field]!r} is not in currencies."
        )
    types = set(map(itemgetter("key_string"), records["activity_types"]))
    activities = records["activities"]
    if not _all_in(types, "type", activities):
        bad = next(item for item in activities if item["type"] not in types)
        raise FixtureError(
            f"{paths['activities']}: record id {bad['id']}: field 'type': "
            f"no activity type has key_string {bad['type']!r}."
        )
    users = ids["users"]
    for token, user_id in company["tokens"].items():
        if user_id not in users:
            raise FixtureError(f"{paths['company']}: tokens: field {token!r}: user {user_id} does not exist.")
    if company["api_user_id"] not in users:
        raise FixtureError(f"{paths['company']}: field 'api_user_id': user {company['api_user_id']} does not exist.")


def _all_in(allowed: Ids, field: str, items: list[dict[str, Any]]) -> bool:
    """Whether the `field` of every item is one of `allowed`."""
    value = itemgetter(field)
    return all(allowed.issuperset(map(value, part)) for part in _parts(items))
