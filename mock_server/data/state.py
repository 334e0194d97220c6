"""A tenant's whole state as JSON: export, checked import with a lossless round trip, and per-tenant seeds."""

from __future__ import annotations

import copy
import hashlib
import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import yaml
from jsonschema import Draft202012Validator

from mock_server.data import fixtures
from mock_server.data.fixtures import RESOURCES, FixtureError
from mock_server.domain.account import Account, FixtureSet
from mock_server.domain.clock import DATETIME_FORMAT, MAX_SHIFT, Clock, parse_datetime
from mock_server.domain.collection import Collection, Record
from mock_server.domain.webhooks import restore_webhooks
from mock_server.errors import Invalid

STATE_VERSION = 1
REQUIRED = ("version", "company", "user_id", "records")
# A hand-written state may leave these out: they then start where a fresh account of the records would.
OPTIONAL = ("sequences", "index_orders", "deal_changes", "option_id", "random", "clock", "webhooks")
DEAL_CHANGE = fixtures.record(id=fixtures.INT, item_id=fixtures.INT, user_id=fixtures.INT, field_key=fixtures.STR,
                              old_value={}, new_value={}, log_time=fixtures.DATETIME)  # fmt: skip


class InvalidState(Invalid, FixtureError):
    """A state that cannot be imported: a 400 for the control plane, a start-up error for the CLI."""


def tenant_seed(seed: int, token: str) -> int:
    """The seed of one tenant's account: the same for the same server seed and token, in every process."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{token}".encode()).digest()[:8], "big")


# --- export -----------------------------------------------------------------------------------------------------


def export_state(account: Account, *, copied: bool = True) -> dict[str, Any]:
    """Everything the account holds, as plain JSON values; the same state always gives the same document.
    Without `copied` the records are the account's own: only for a caller that encodes them at once, before
    anything can change them (copying a 100k-deal account took 20 s on the event loop)."""
    collections = account.collections()
    version, internal, gauss_next = account.random.getstate()
    keep = copy.deepcopy if copied else _as_is
    return {
        "version": STATE_VERSION,
        "company": copy.deepcopy(account.company),
        "user_id": account.user_id,
        "records": {name: keep(list(collection.all())) for name, collection in collections.items()},
        "sequences": {name: collection.last_id for name, collection in collections.items()},
        "index_orders": _index_orders(collections),
        "deal_changes": keep(list(account.deal_changes)),
        "option_id": account.last_option_id,
        "random": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
        "clock": export_clock(account.clock),
        "webhooks": account.webhooks.export(),
    }


# Records encoded by one call: one call of the encoder is not interrupted, and a few hundred records take about a
# millisecond.
RECORDS_PER_PIECE = 500


def encoded_state(account: Account) -> list[bytes]:
    """The account's state as JSON, in pieces to send in turn (see `envelope.streamed`): the records are encoded a
    few hundred at a time, and the whole is never joined. Encoded at once, before anything can change the records
    (so they are not copied)."""
    state = export_state(account, copied=False)
    pieces = [b"{"]
    for number, (key, value) in enumerate(state.items()):
        pieces.append((b"," if number else b"") + _dumps(key) + b":")
        if key == "records":
            pieces.append(b"{")
            for position, (name, records) in enumerate(value.items()):
                pieces.append((b"," if position else b"") + _dumps(name) + b":")
                _list_into(pieces, records)
            pieces.append(b"}")
        elif key == "deal_changes":
            _list_into(pieces, value)
        else:
            pieces.append(_dumps(value))
    pieces.append(b"}")
    return pieces


def _list_into(pieces: list[bytes], items: list[Any]) -> None:
    pieces.append(b"[")
    for start in range(0, len(items), RECORDS_PER_PIECE):
        pieces.append((b"," if start else b"") + _dumps(items[start : start + RECORDS_PER_PIECE])[1:-1])
    pieces.append(b"]")


def _dumps(value: Any) -> bytes:
    """Compact JSON; integers past 64 bits, which orjson refuses, by the standard encoder."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def export_clock(clock: Clock) -> dict[str, Any]:
    """A tenant's own clock setting: frozen at a time, or this many seconds ahead of (behind) the server clock."""
    frozen_at = clock.frozen_at
    return {
        "frozen": None if frozen_at is None else frozen_at.strftime(DATETIME_FORMAT),
        "offset_seconds": int(clock.offset.total_seconds()),
    }


def _as_is(records: list[Record]) -> list[Record]:
    return records


def _index_orders(collections: dict[str, Collection]) -> dict[str, dict[str, list[list[Any]]]]:
    """Index entries a change reordered, so lists filtered by an indexed field keep their order after import."""
    orders: dict[str, dict[str, list[list[Any]]]] = {}
    for name, collection in collections.items():
        moved = {
            field: [[value, ids] for value, ids in sorted(entries, key=lambda entry: json.dumps(entry[0]))]
            for field, entries in collection.index_orders().items()
        }
        if moved:
            orders[name] = moved
    return orders


# --- import -----------------------------------------------------------------------------------------------------


def import_state(
    state: dict[str, Any], clock: Clock, *, seed: int = 0, owned: bool = False, trusted: bool = False
) -> Account:
    """An account whose export equals `state`. Records are checked like fixtures; `seed` seeds the random
    generator only when the state carries none. With `owned` the account takes the state's records as they are
    (the caller gives them up, as a request body is given up); otherwise it works on a copy.

    A `trusted` state is one this mock wrote itself (a data folder), handed over whole: its records and change
    log were checked when they were accepted, so they are checked for shape only (a schema check of a big
    account takes minutes) and become the account's own without a copy."""
    try:
        return _build(state if owned or trusted else _copied(state), clock, seed, trusted)
    except FixtureError as error:
        raise InvalidState(str(error)) from None


def _copied(state: Any) -> Any:
    """A deep copy of JSON values; a round trip through orjson is several times faster than `copy.deepcopy`."""
    try:
        return orjson.loads(orjson.dumps(state))
    except (TypeError, orjson.JSONDecodeError):  # integers past 64 bits, or values that are not JSON at all
        return copy.deepcopy(state)


def load_state_file(path: Path) -> dict[str, Any]:
    """A state file (JSON, or YAML by suffix), fully checked; every error names the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        state = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise InvalidState(f"{path}: cannot be read as a state: {error}") from None
    try:
        import_state(state, Clock())
    except FixtureError as error:
        raise InvalidState(f"{path}: {error}") from None
    assert isinstance(state, dict)  # import_state refuses anything else
    return state


def _build(state: Any, clock: Clock, seed: int, trusted: bool = False) -> Account:
    _check_shape(state)
    company = _check_company(state["company"])
    fixture = _shaped_records(state["records"], company) if trusted else _check_records(state["records"], company)
    records = fixture.records
    user_id = _check_user(state["user_id"], records)
    account = Account(fixture, clock, user_id, seed=seed, copy_records=False)  # `state` is the account's own
    if "sequences" in state:
        _restore_sequences(account, state["sequences"])
    if "index_orders" in state:
        _restore_index_orders(account, state["index_orders"])
    if "deal_changes" in state:
        account.deal_changes = _check_deal_changes(state["deal_changes"], records, schema=not trusted)
    if "option_id" in state:
        account.last_option_id = _check_option_id(state["option_id"], account.last_option_id)
    if "random" in state:
        _restore_random(account.random, state["random"])
    if "clock" in state:
        _restore_clock(clock, state["clock"])
    if "webhooks" in state:
        try:
            account.webhooks = restore_webhooks(state["webhooks"], {user["id"] for user in records["users"]})
        except Invalid as error:
            raise InvalidState(error.message) from None
    return account


def _check_shape(state: Any) -> None:
    if not isinstance(state, dict):
        raise InvalidState(f"a state is a JSON object as `export` answers it, not {_kind(state)}.")
    unknown = sorted(str(key) for key in state if key not in (*REQUIRED, *OPTIONAL))
    if unknown:
        raise InvalidState(
            f"field {unknown[0]!r} is not part of a state; the fields are {_names(REQUIRED + OPTIONAL)}."
        )
    missing = [key for key in REQUIRED if key not in state]
    if missing:
        raise InvalidState(f"field {missing[0]!r} is missing; a state needs {_names(REQUIRED)}.")
    if not _is_int(state["version"]) or state["version"] != STATE_VERSION:
        raise InvalidState(f"field 'version': {state['version']!r} is not supported; this mock reads version 1.")


def _check_company(company: Any) -> dict[str, Any]:
    error = _first_error(fixtures.COMPANY, company)
    if error is not None:
        raise InvalidState(f"company: {error}")
    return dict(company)


def _check_records(records: Any, company: dict[str, Any]) -> FixtureSet:
    """The records checked exactly as a fixture set is: schemas, unique ids and every reference."""
    if not isinstance(records, dict):
        raise InvalidState(f"field 'records': expected an object of record lists by resource, not {_kind(records)}.")
    unknown = sorted(str(name) for name in records if name not in RESOURCES)
    if unknown:
        raise InvalidState(f"records: {unknown[0]!r} is not a resource; the resources are {_names(RESOURCES)}.")
    try:
        return fixtures.validate(company, records, "records")
    except FixtureError:
        # A record without an id is named as such, not by the schema error of its missing `id` (the fixture schemas
        # take the id for granted). Looked for only once the records were refused: a list the schemas accept holds
        # only records with an id.
        _check_ids(records)
        raise


def _check_ids(records: dict[str, Any]) -> None:
    for resource, items in records.items():
        for position, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict) and "id" not in item:
                label = fixtures.record_label(position, item)
                raise InvalidState(f"records: {resource}: {label}: field 'id': every record needs an integer id.")


def _shaped_records(records: Any, company: dict[str, Any]) -> FixtureSet:
    """Records of every resource, each an object with an integer id: what a trusted state is checked for."""
    if not isinstance(records, dict) or sorted(records) != sorted(RESOURCES):
        raise InvalidState(f"field 'records': expected a list of records for each of {_names(RESOURCES)}.")
    for resource, items in records.items():
        if not isinstance(items, list):
            raise InvalidState(f"records: {resource}: expected a list of records, not {_kind(items)}.")
        for position, item in enumerate(items):
            if not (isinstance(item, dict) and _is_int(item.get("id"))):
                label = fixtures.record_label(position, item)
                raise InvalidState(f"records: {resource}: {label}: not a record with an integer id.")
    return FixtureSet(Path("records"), company, records)


def _check_user(user_id: Any, records: dict[str, list[Record]]) -> int:
    users = [user["id"] for user in records["users"]]
    if not _is_int(user_id) or user_id not in users:
        raise InvalidState(f"field 'user_id': {user_id!r} is not a user of the account; give one of {users}.")
    return int(user_id)


def _restore_sequences(account: Account, sequences: Any) -> None:
    if not isinstance(sequences, dict):
        raise InvalidState(f"field 'sequences': expected an object of last ids by resource, not {_kind(sequences)}.")
    collections = account.collections()
    for resource, last_id in sequences.items():
        collection = collections.get(resource)
        if collection is None:
            raise InvalidState(f"sequences: {resource!r} is not a resource; the resources are {_names(RESOURCES)}.")
        highest = collection.last_id  # a fresh collection starts after its highest record id
        if not _is_int(last_id) or last_id < highest:
            raise InvalidState(
                f"sequences: field {resource!r}: {last_id!r} would hand out an id already taken; "
                f"give an integer of at least {highest}, the highest id in records.{resource}."
            )
        collection.continue_after(last_id)


def _restore_index_orders(account: Account, orders: Any) -> None:
    if not isinstance(orders, dict):
        raise InvalidState(f"field 'index_orders': expected an object by resource, not {_kind(orders)}.")
    collections = account.collections()
    for resource, fields in orders.items():
        collection = collections.get(resource)
        if collection is None or not isinstance(fields, dict):
            raise InvalidState(f"index_orders: {resource!r} is not a resource with an object of indexed fields.")
        for field, entries in fields.items():
            if field not in collection.index_fields or not isinstance(entries, list):
                raise InvalidState(
                    f"index_orders: field '{resource}.{field}': give a list of [value, ids] entries for one of "
                    f"the indexed fields {_names(collection.index_fields)}."
                )
            for entry in entries:
                _restore_index_entry(collection, f"{resource}.{field}", field, entry)


def _restore_index_entry(collection: Collection, where: str, field: str, entry: Any) -> None:
    if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], list)):
        raise InvalidState(f"index_orders: field '{where}': {entry!r} is not a [value, ids] entry.")
    value, ids = entry
    if not (value is None or isinstance(value, int | str)):
        raise InvalidState(f"index_orders: field '{where}': {value!r} is not a value a record can be filed under.")
    filed = collection.index_ids(field, value)
    if sorted(map(str, ids)) != sorted(map(str, filed)) or not all(_is_int(record_id) for record_id in ids):
        raise InvalidState(
            f"index_orders: field '{where}': the ids {ids} for {value!r} are not the records with {field} "
            f"{value!r}, which are {filed}."
        )
    collection.reorder_index(field, value, ids)


def _check_deal_changes(changes: Any, records: dict[str, list[Record]], *, schema: bool = True) -> list[Record]:
    if not isinstance(changes, list):
        raise InvalidState(f"field 'deal_changes': expected a list of logged changes, not {_kind(changes)}.")
    deals = {deal["id"] for deal in records["deals"]}
    # The compiled validator checks the whole log at once; each change is checked in Python only when it refuses.
    checked = schema and fixtures.all_valid(DEAL_CHANGE, changes)
    for position, change in enumerate(changes):
        label = f"deal_changes: record #{position + 1}"
        if schema and not checked:
            error = _first_error(DEAL_CHANGE, change)
        else:
            error = None if isinstance(change, dict) else "a logged change is an object"
        if error is not None:
            raise InvalidState(f"{label}: {error}")
        if change.get("id") != position + 1:
            # The next change takes the id after the log's length, so the log must be numbered 1, 2, 3, ...
            raise InvalidState(f"{label}: field 'id': changes are numbered from 1 in order; expected {position + 1}.")
        if change.get("item_id") not in deals:
            raise InvalidState(f"{label}: field 'item_id': deals has no record with id {change.get('item_id')}.")
    return changes  # the state's own: a copy, or a body given up (see `import_state`)


def _check_option_id(option_id: Any, highest: int) -> int:
    if not _is_int(option_id) or option_id < highest:
        raise InvalidState(
            f"field 'option_id': {option_id!r} would hand out an option id already taken; "
            f"give an integer of at least {highest}, the highest option id of the fields."
        )
    return int(option_id)


def restore_random(generator: random.Random, saved: Any) -> None:
    """Put `generator` in the random state an export saved (refused with an InvalidState when it is not one)."""
    _restore_random(generator, saved)


def _restore_random(generator: random.Random, saved: Any) -> None:
    problem = "give the `random` object an export holds, or leave it out to seed the account from the server's seed."
    if not isinstance(saved, dict) or set(saved) != {"version", "internal", "gauss_next"}:
        raise InvalidState(f"field 'random': expected an object of version, internal and gauss_next; {problem}")
    internal = saved["internal"]
    if not isinstance(internal, list) or not all(_is_int(number) for number in internal):
        raise InvalidState(f"random: field 'internal': expected a list of integers; {problem}")
    if not (saved["gauss_next"] is None or isinstance(saved["gauss_next"], float)):
        raise InvalidState(f"random: field 'gauss_next': expected a number or null; {problem}")
    try:
        generator.setstate((saved["version"], tuple(internal), saved["gauss_next"]))
    except (TypeError, ValueError, OverflowError) as error:
        raise InvalidState(f"field 'random': {error}; {problem}") from None


def _restore_clock(clock: Clock, saved: Any) -> None:
    problem = "give the `clock` object an export holds, or leave it out to follow the server clock."
    if not isinstance(saved, dict) or set(saved) != {"frozen", "offset_seconds"}:
        raise InvalidState(f"field 'clock': expected an object of frozen and offset_seconds; {problem}")
    frozen, offset = saved["frozen"], saved["offset_seconds"]
    limit = int(MAX_SHIFT.total_seconds())
    if not _is_int(offset) or abs(offset) > limit:
        raise InvalidState(f"clock: field 'offset_seconds': expected a whole number from -{limit} to {limit}; "
                           f"got {offset!r}.")  # fmt: skip
    if frozen is None:
        clock.restore(None, timedelta(seconds=offset))
        return
    try:
        moment = parse_datetime(frozen)
    except (TypeError, ValueError):
        raise InvalidState(
            f"clock: field 'frozen': {frozen!r} is not a time; give YYYY-MM-DD HH:MM:SS in UTC, or null."
        ) from None
    clock.restore(moment, timedelta(seconds=offset))


# --- helpers ----------------------------------------------------------------------------------------------------


def _first_error(schema: dict[str, Any], value: Any) -> str | None:
    """The first schema violation as `field 'name': what is wrong`, the way fixture errors name fields."""
    errors = Draft202012Validator(schema).iter_errors(value)
    error = min(errors, key=lambda found: [str(part) for part in found.absolute_path], default=None)
    if error is None:
        return None
    field = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "required":
        field = str(error.message).split("'")[1]
    return f"field '{field or '(record)'}': {error.message}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(f"'{name}'" for name in names)
