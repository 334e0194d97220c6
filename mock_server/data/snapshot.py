"""`fintesk-mock snapshot`: read an account through its API (GET only) and write it as a fixture folder."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from mock_server.data import fixtures
from mock_server.data.pacing import Source, SourceError
from mock_server.data.rebuild import Rebuilt, rebuild

PAGE = 500


class Progress(Protocol):
    """Told how many records of a resource have been fetched so far, and when a resource is complete."""

    def advance(self, resource: str, count: int, total: int | None) -> None: ...

    def finish(self, resource: str, count: int) -> None: ...


# Whole records read through their own lists: (resource, path, whether the list pages). A target that answers one
# with 403 or 404 (a token without the scope, a service without the endpoint) leaves that resource to what other
# answers show of it (`related_objects`, product lines, the stage and pipeline fields' options).
WHOLE = [("users", "/users", False), ("pipelines", "/pipelines", True), ("stages", "/stages", True),
         ("organizations", "/organizations", True), ("persons", "/persons", True), ("products", "/products", True),
         ("notes", "/notes", True), ("person_fields", "/personFields", True),
         ("organization_fields", "/organizationFields", True), ("product_fields", "/productFields", True)]  # fmt: skip
NOT_SERVED = (403, 404)
# The resources whose lists leave deleted records out, by their `/recents` kind (deals are listed with status
# `deleted`, users deactivated or not).
DELETED = {"person": "persons", "organization": "organizations", "product": "products", "note": "notes",
           "activity": "activities", "activityType": "activity_types", "stage": "stages", "pipeline": "pipelines",
           "filter": "filters"}  # fmt: skip
EPOCH = "1970-01-01 00:00:00"


@dataclass
class Taken:
    """What the API answered, as it answered it: lists of records and every `related_objects` entry seen, the
    token's user with its company (`/users/me`), and a sentence for each list the target does not serve."""

    lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    related: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    api_user_id: int | None = None
    me: dict[str, Any] | None = None
    unserved: list[str] = field(default_factory=list)

    def relate(self, envelope: dict[str, Any]) -> None:
        for kind, records in (envelope.get("related_objects") or {}).items():
            if isinstance(records, dict):
                known = self.related.setdefault(kind, {})
                for record in records.values():
                    if isinstance(record, dict) and isinstance(record.get("id"), int):
                        known.setdefault(record["id"], record)


def take(source: Source, progress: Progress, *, deal_persons: bool = False) -> Taken:
    """Read every resource the API lists, in the order a fixture folder needs them.

    With `deal_persons`, and only where the target does not list persons, each deal's persons: one request more
    per deal, for whole person records.
    """
    taken = Taken()
    simple = [("currencies", "/currencies"), ("activity_types", "/activityTypes"),
              ("activity_fields", "/activityFields")]  # fmt: skip
    for resource, path in simple:
        taken.lists[resource] = _read_all(source, taken, resource, [(path, {})], progress, paged=False)
    taken.lists["deal_fields"] = _read_all(source, taken, "deal_fields", [("/dealFields", {})], progress)
    taken.me = _served(taken, "users/me", lambda: source.get("/users/me").get("data"))
    for resource, path, paged in WHOLE:
        read = functools.partial(_read_all, source, taken, resource, [(path, {})], progress, paged=paged)
        listed = _served(taken, resource, read)
        if listed is not None:
            taken.lists[resource] = listed
    taken.lists["filters"] = _filters(source, progress)
    deal_lists = [("/deals", {"status": "all_not_deleted"}), ("/deals", {"status": "deleted"})]
    taken.lists["deals"] = _read_all(source, taken, "deals", deal_lists, progress)
    taken.lists["activities"] = _read_all(source, taken, "activities", [("/activities", {"user_id": 0})], progress)
    taken.lists["deal_products"] = _per_deal(source, taken, progress, "deal_products", "products", lines=True)
    if deal_persons and "persons" not in taken.lists:
        taken.lists["persons"] = _per_deal(source, taken, progress, "persons", "persons")
    _read_deleted(source, taken, progress)
    me_id = taken.me.get("id") if isinstance(taken.me, dict) else None
    taken.api_user_id = me_id if isinstance(me_id, int) else _api_user(source)
    return taken


def _served(
    taken: Taken, resource: str, read: Callable[[], Any], instead: str = "taken from what other answers show"
) -> Any:
    """What `read` answers; None, and a sentence in `taken.unserved`, when the target does not serve it."""
    try:
        return read()
    except SourceError as error:
        if error.status not in NOT_SERVED:
            raise
        taken.unserved.append(f"{resource}: not served ({error}); {instead}.")
        return None


def _read_deleted(source: Source, taken: Taken, progress: Progress) -> None:
    """The records lists leave out because they are deleted (a deal keeps its deleted person), whole and with their
    times, from `/recents`, which shows every record changed since a moment, deleted ones as deleted."""
    kinds = {kind: resource for kind, resource in DELETED.items() if resource in taken.lists}
    known = {resource: {record["id"] for record in taken.lists[resource]} for resource in kinds.values()}
    found = 0

    def read() -> None:
        nonlocal found
        for page in _pages(source, taken, "/recents", {"since_timestamp": EPOCH, "items": ",".join(kinds)}, True):
            for item in page:
                resource = kinds.get(str(item.get("item"))) if isinstance(item, dict) else None
                record = item.get("data") if resource else None
                record_id = record.get("id") if isinstance(record, dict) else None
                if (
                    resource
                    and isinstance(record, dict)
                    and isinstance(record_id, int)
                    and record_id not in known[resource]
                ):
                    known[resource].add(record_id)
                    taken.lists[resource].append(record)
                    found += 1
            progress.advance("deleted", found, None)

    _served(taken, "recents", read, "deleted records are not copied, but those still referred to are rebuilt")
    progress.finish("deleted", found)


def _pages(source: Source, taken: Taken, path: str, params: dict[str, Any], paged: bool) -> Iterator[list[Any]]:
    start = 0
    while True:
        envelope = source.get(path, **params, **({"start": start, "limit": PAGE} if paged else {}))
        taken.relate(envelope)
        data = envelope.get("data")
        yield data if isinstance(data, list) else []
        pagination = (envelope.get("additional_data") or {}).get("pagination") or {}
        next_start = pagination.get("next_start")
        if not paged or not pagination.get("more_items_in_collection") or not isinstance(next_start, int):
            return
        if next_start <= start:
            return
        start = next_start


def _read_all(
    source: Source,
    taken: Taken,
    resource: str,
    lists: list[tuple[str, dict[str, Any]]],
    progress: Progress,
    *,
    paged: bool = True,
) -> list[dict[str, Any]]:
    records: dict[int, dict[str, Any]] = {}
    for path, params in lists:
        for page in _pages(source, taken, path, params, paged):
            _keep_by_id(records, page)
            progress.advance(resource, len(records), None)
    progress.finish(resource, len(records))
    return list(records.values())


def _keep_by_id(records: dict[int, dict[str, Any]], page: list[Any]) -> None:
    """Add a page's records (objects with an integer id) to `records`; a record seen before keeps its first copy."""
    for record in page:
        if isinstance(record, dict) and isinstance(record.get("id"), int):
            records.setdefault(record["id"], record)


def _filters(source: Source, progress: Progress) -> list[dict[str, Any]]:
    """The list leaves out the conditions; each filter's details carry them."""
    listed = [entry for entry in source.get("/filters").get("data") or []
              if isinstance(entry, dict) and isinstance(entry.get("id"), int)]  # fmt: skip
    details = []
    for summary in listed:
        detail = source.get(f"/filters/{summary['id']}").get("data")
        if isinstance(detail, dict):
            details.append(detail)
        progress.advance("filters", len(details), len(listed))
    progress.finish("filters", len(details))
    return details


def _per_deal(
    source: Source, taken: Taken, progress: Progress, resource: str, below: str, *, lines: bool = False
) -> list[dict[str, Any]]:
    """`/deals/{id}/<below>` of every deal that is not deleted (a deleted deal's cannot be read).

    Product lines come with their products, and only of deals that have any; a deal that does not show
    `products_count` is asked all the same. Records seen under several deals are kept once.
    """
    deals = [deal["id"] for deal in taken.lists["deals"]
             if deal.get("status") != "deleted" and (not lines or deal.get("products_count", 1))]  # fmt: skip
    params = {"include_product_data": 1} if lines else {}
    records: dict[int, dict[str, Any]] = {}
    for deal_id in deals:
        for page in _pages(source, taken, f"/deals/{deal_id}/{below}", params, paged=True):
            _keep_by_id(records, page)
        progress.advance(resource, len(records), None)
    progress.finish(resource, len(records))
    return list(records.values())


def _api_user(source: Source) -> int | None:
    """The token's user: the owner of a deal `owned_by_you`, else of an activity listed without `user_id`."""
    for path, params in (("/deals", {"owned_by_you": 1, "limit": 1}), ("/activities", {"limit": 1})):
        data = source.get(path, **params).get("data")
        if isinstance(data, list) and data and isinstance(data[0], dict):
            owner = data[0].get("user_id")
            owner = owner.get("value", owner.get("id")) if isinstance(owner, dict) else owner
            if isinstance(owner, int):
                return owner
    return None


def snapshot(
    source: Source, out: Path, *, force: bool, progress: Progress, now: str, deal_persons: bool = False
) -> Rebuilt:
    """Read the account behind `source` and write it to `out` as a fixture folder; only a complete one lands."""
    check_out(out, force=force)
    taken = take(source, progress, deal_persons=deal_persons)
    host = source.base_url.split("//", 1)[-1].split("/", 1)[0]
    rebuilt = rebuild(taken.lists, taken.related, api_user_id=taken.api_user_id, host=host, now=now, me=taken.me)
    rebuilt.defaults[:0] = taken.unserved
    fixtures.validate(rebuilt.company, rebuilt.records, out)
    write_folder(out, rebuilt.company, rebuilt.records, force=force)
    return rebuilt


class OutExists(Exception):
    """`--out` holds files and `--force` was not given."""


def check_out(out: Path, *, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise OutExists(f"{out} is a file; --out needs a folder.")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise OutExists(f"{out} is not empty; pass --force to replace it.")


def write_folder(out: Path, company: dict[str, Any], records: dict[str, list[Any]], *, force: bool) -> None:
    """Write every file into a folder beside `out`, then move it into place: an interrupted run leaves nothing.

    Files are JSON (UTF-8, indented): a real account's 50,000 activities load in seconds, where YAML took a minute.
    """
    check_out(out, force=force)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        for name, content in {"company": company, **records}.items():
            (staging / f"{name}.json").write_bytes(orjson.dumps(content, option=orjson.OPT_INDENT_2) + b"\n")
        _move_into_place(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _move_into_place(staging: Path, out: Path) -> None:
    if not out.exists():
        os.replace(staging, out)
        return
    retired = out.with_name(f".{out.name}.replaced-{os.getpid()}")
    os.replace(out, retired)
    try:
        os.replace(staging, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.replace(retired, out)
        raise
    shutil.rmtree(retired, ignore_errors=True)
