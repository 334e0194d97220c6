"""A generic collection of records keyed by id, with soft delete, secondary indexes and pagination."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice, pairwise
from typing import Any

from mock_server.errors import MissingReference, NotFound

Record = dict[str, Any]


@dataclass(frozen=True)
class Page:
    items: list[Any]
    start: int
    limit: int
    more: bool

    def pagination(self) -> dict[str, Any]:
        pagination: dict[str, Any] = {"start": self.start, "limit": self.limit, "more_items_in_collection": self.more}
        if self.more:
            pagination["next_start"] = self.start + self.limit
        return pagination


@dataclass
class Kept:
    """A render kept for reuse (shared, so never changed) and what callers derive from it alone, such as its
    encoding: kept and dropped with it."""

    record: Record
    derived: dict[Any, Any] = field(default_factory=dict)


def paginate(records: Iterable[Record], start: int, limit: int, render: Callable[[Record], Any]) -> Page:
    """Render only the requested slice; everything before it was filtered and ordered by the caller.

    `records` may be lazy: only the records up to the page and one more (to tell whether more follow) are drawn,
    so a page of a large account costs the page, not the account.
    """
    # islice takes no index past sys.maxsize; no collection is that long, so such a page is empty.
    window = list(islice(records, min(start, sys.maxsize), min(start + limit + 1, sys.maxsize)))
    return Page([render(record) for record in window[:limit]], start, limit, len(window) > limit)


class Collection:
    """Records of one resource in insertion order. Stored dicts never leave the domain: callers render copies.

    A collection made by `fork` shares its records and index entries with the one it was forked from, copying a
    record only when it is about to change (`own`) and an index entry only when it files a record differently.
    Tenants fork one built account this way, so a new tenant costs a few dict copies, not a copy of every record.
    """

    def __init__(self, label: str, records: Iterable[Record] = (), *, indexes: Sequence[str] = ()) -> None:
        self.label = label
        self._records: dict[int, Record] = {record["id"]: record for record in records}
        self._indexes: dict[str, dict[Any, dict[int, None]]] = {name: {} for name in indexes}
        for name, index in self._indexes.items():
            for record_id, record in self._records.items():
                index.setdefault(record.get(name), {})[record_id] = None
        # Ids of records and keys of index entries this collection may change in place; None: all of them.
        self._owned: set[int] | None = None
        self._owned_keys: dict[str, set[Any]] | None = None
        # Index entries `change` or `reorder_index` filed anew, by field: only these may be out of insertion order.
        self._refiled: dict[str, set[Any]] = {name: set() for name in indexes}
        # Counts changes: the account's version (what every kept view is kept by) is made of these counts.
        self.version = len(self._records)
        # What changed since `take_changes` last asked, so a durable store writes only that.
        self._changed: dict[int, None] = {}
        self._reordered = False
        self._last_id = max(self._records, default=0)

    def fork(self) -> Collection:
        """A copy that shares every record with this one until either changes it; this one must not change after."""
        clone = copy.copy(self)
        clone._records = dict(self._records)
        clone._indexes = {name: dict(index) for name, index in self._indexes.items()}
        clone._owned = set()
        clone._owned_keys = {name: set() for name in self._indexes}
        clone._refiled = {name: set(values) for name, values in self._refiled.items()}
        clone._changed = {}
        clone._reordered = False
        return clone

    def own(self, record: Record) -> Record:
        """The stored record with the id of `record`, made private to this collection so that it may change."""
        record_id = record["id"]
        stored = self._records[record_id]
        self._changed[record_id] = None  # the caller owns it in order to change it
        if self._owned is None or record_id in self._owned:
            return stored
        mine: Record = copy.deepcopy(stored)
        self.version += 1
        self._records[record_id] = mine
        self._owned.add(record_id)
        return mine

    def _bucket(self, name: str, value: Any) -> dict[int, None]:
        """The index entry of `value`, ready to be changed."""
        index = self._indexes[name]
        bucket = index.get(value)
        if self._owned_keys is not None and value not in self._owned_keys[name]:
            bucket = index[value] = dict(bucket or {})
            self._owned_keys[name].add(value)
        elif bucket is None:
            bucket = index[value] = {}
        return bucket

    def __len__(self) -> int:
        return len(self._records)

    def _insert(self, record: Record) -> None:
        self.version += 1
        record_id = record["id"]
        self._changed[record_id] = None
        self._records[record_id] = record
        if self._owned is None:  # not a fork: every index entry is this collection's own
            for name, index in self._indexes.items():
                index.setdefault(record.get(name), {})[record_id] = None
            return
        self._owned.add(record_id)
        for name in self._indexes:
            self._bucket(name, record.get(name))[record_id] = None

    def take_changes(self) -> tuple[list[Record], bool]:
        """The records added or changed since the last call (in the order they first changed), and whether an index
        was reordered since; what is taken is forgotten."""
        if not self._changed and not self._reordered:
            return [], False
        changed = [self._records[record_id] for record_id in self._changed]
        reordered = self._reordered
        self._changed = {}
        self._reordered = False
        return changed, reordered

    def next_id(self) -> int:
        self._last_id += 1
        return self._last_id

    @property
    def last_id(self) -> int:
        """The newest id handed out (at first the highest id loaded); the next record gets the one after it."""
        return self._last_id

    def continue_after(self, last_id: int) -> None:
        """Go on handing out ids after `last_id`, as the account this one was exported from would."""
        self._last_id = last_id

    def index_orders(self) -> dict[str, list[tuple[Any, list[int]]]]:
        """Index entries no longer in insertion order, by field: `change` files a moved record last. Only entries
        filed anew are looked at, so an account that moved nothing is not walked."""
        refiled = {name: values for name, values in self._refiled.items() if values}
        if not refiled:
            return {}
        wanted = {
            record_id
            for name, values in refiled.items()
            for value in values
            for record_id in self.index_ids(name, value)
        }
        position = {record_id: number for number, record_id in enumerate(self._records) if record_id in wanted}
        orders: dict[str, list[tuple[Any, list[int]]]] = {}
        for name, values in refiled.items():
            moved = [
                (value, list(ids))
                for value, ids in self._indexes[name].items()
                if value in values and any(position[earlier] > position[later] for earlier, later in pairwise(ids))
            ]
            if moved:
                orders[name] = moved
        return orders

    def index_ids(self, field: str, value: Any) -> list[int]:
        """The ids filed under `value` in the index of `field`, deleted records included, in index order."""
        return list(self._indexes[field].get(value, {}))

    def reorder_index(self, field: str, value: Any, record_ids: list[int]) -> None:
        """File the records under `value` in this order; the caller gives exactly the ids filed there."""
        self.version += 1
        self._reordered = True
        self._refiled[field].add(value)
        bucket = self._bucket(field, value)
        bucket.clear()
        bucket.update(dict.fromkeys(record_ids))

    @property
    def index_fields(self) -> tuple[str, ...]:
        return tuple(self._indexes)

    def find(self, record_id: int) -> Record | None:
        """The active record with this id, or None."""
        record = self._records.get(record_id)
        if record is None or record.get("active_flag") is False:
            return None
        return record

    def find_any(self, record_id: int) -> Record | None:
        """The record with this id, deleted or not."""
        return self._records.get(record_id)

    def get(self, record_id: int) -> Record:
        record = self.find(record_id)
        if record is None:
            raise NotFound(f"{self.label} with id {record_id} not found.")
        return record

    def require(self, field: str, record_id: int) -> Record:
        """The record a request names in `field`; a missing one is the service's 'required resource' 404."""
        record = self.find(record_id)
        if record is None:
            raise MissingReference(field, record_id)
        return record

    def add(self, record: Record) -> Record:
        record["id"] = self.next_id()
        self._insert(record)
        return record

    def change(self, record: Record, changes: dict[str, Any]) -> None:
        """Apply changes to a stored record of this collection's own (see `own`), keeping the indexes true."""
        if self._records.get(record["id"]) is not record or not (self._owned is None or record["id"] in self._owned):
            raise RuntimeError(f"{self.label} {record['id']} is shared or not stored here: own() it before changing it")
        self.version += 1
        self._changed[record["id"]] = None
        for name in self._indexes:
            if name in changes and changes[name] != record.get(name):
                self._reordered = True  # filed last under its new value: no longer in insertion order
                self._refiled[name].add(changes[name])
                self._bucket(name, record.get(name)).pop(record["id"], None)
                self._bucket(name, changes[name])[record["id"]] = None
        record.update(changes)

    def drop_keys(self, record: Record, keys: Iterable[str]) -> None:
        """Remove fields from a stored record (the values of a deleted custom field); never an indexed field."""
        record = self.own(record)
        self.version += 1
        for key in keys:
            record.pop(key, None)

    def all(self) -> Iterator[Record]:
        return iter(self._records.values())

    def active(self) -> Iterator[Record]:
        return (record for record in self._records.values() if record.get("active_flag") is not False)

    def where(self, field: str, value: Any) -> list[Record]:
        """Active records whose indexed `field` equals `value`, in insertion order."""
        ids = self._indexes[field].get(value, {})
        records = (self._records[record_id] for record_id in ids)
        return [record for record in records if record.get("active_flag") is not False]
