"""A generic collection of records keyed by id, with soft delete, secondary indexes and pagination."""

from __future__ import annotations

import copy
import heapq
import operator
import sys
import weakref
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice, pairwise
from typing import Any, Generic, Protocol, TypeVar, cast, overload

from mock_server.errors import MissingReference, NotFound

Record = dict[str, Any]
T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")
V_co = TypeVar("V_co", covariant=True)
# Long lists are sorted (`sorted_lazily`) and listed (`listed`) this many items at a time: sorting 100k deals or
# listing a million records in one C call holds the GIL for 15-30 ms.
PIECE = 4096
# `let_go` empties a list this many items at a time: freeing 256 rendered deals takes well under a millisecond.
LET_GO_PIECE = 256
# A fork keeps a table (records by id, an index) of more entries than this as a `Layered` over its origin's
# instead of a copy: copying a million entries is one C call that holds the GIL for 30 ms.
LAYER_ABOVE = 10_000
# A collection loaded with more records than this, in ascending id order, keeps them in a `Sharded` table of
# tables this long: a dict grows by copying all its entries in one C call, 20-40 ms for the last growth of a
# million-entry dict, and under 1 ms for the last growth of one this long.
SHARD = 65_536


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


def back_reference(account: T) -> T:
    """How a part of an account (a collection, a view) refers to the account: weakly. An account and its parts then
    form no cycle, and reference counting frees them as soon as nothing else refers to the account; a cycle would
    wait for the cyclic collector, which never visits an account `gc.freeze` kept (see `Tenants.settle`). While a
    part is in use its account is too: a request holds the account it works on."""
    return cast(T, weakref.proxy(account))


def let_go(kept: dict[Any, Any] | list[Any]) -> None:
    """Empty a dict of kept values (renders) or a long list that is no longer used, a little at a time.

    Dropped at once, the 100k kept renders of a big account are freed in one C call that holds the GIL
    throughout (0.15 s), and a list of a million records in one of 10-15 ms; a little at a time, a worker thread
    lets the event loop have its turn between them.
    """
    if isinstance(kept, list):
        while kept:
            del kept[-LET_GO_PIECE:]
        return
    while kept:
        kept.popitem()


def let_go_whole(box: list[Any]) -> None:
    """Let go of the one value in `box`, which the caller gives up, big containers a piece at a time however deep
    they lie (see `let_go`): dropped at once, a 100k-deal account is freed in one C call that holds the GIL for
    0.7 s to 1.5 s. Only what nothing else holds is emptied: a value still in use elsewhere (a record a fork
    shares with its template, the clock a new account took over) is only given up."""
    value = box.pop()
    if sys.getrefcount(value) == _SOLE:
        _empty(value)


# What `sys.getrefcount` answers for a value held by one local variable alone (it counts its own argument too).
_SOLE = 2
# A container longer than this is emptied a piece at a time wherever it lies; a shorter one only near an object
# (an attribute, or an entry of one, such as a memo's entries): a record is freed whole.
_FREED_WHOLE = LET_GO_PIECE
_NEAR = 2


def _empty(value: Any, depth: int = 0) -> None:
    """Empty `value`, which only the caller holds: the parts that only it holds are emptied in turn when worth it
    (see `_worth_emptying`), and freed one at a time as they are taken out. `depth`: how far below an object."""
    if isinstance(value, dict):
        while value:
            item = value.popitem()[1]
            if sys.getrefcount(item) == _SOLE and _worth_emptying(item, depth + 1):
                _empty(item, depth + 1)
            del item
    elif isinstance(value, list | set):
        while value:
            item = value.pop()
            if sys.getrefcount(item) == _SOLE and _worth_emptying(item, depth + 1):
                _empty(item, depth + 1)
            del item
    elif isinstance(value, tuple):
        for item in value:
            # Held by the tuple and this loop alone: emptied where it lies, then freed with the tuple.
            if sys.getrefcount(item) == _SOLE + 1 and _worth_emptying(item, depth):
                _empty(item, depth)
    else:
        if hasattr(value, "__dict__"):
            _empty(vars(value))
        for name in _slot_names(type(value)):
            item = getattr(value, name, None)
            if item is not None:
                object.__delattr__(value, name)  # a frozen dataclass's own __delattr__ refuses
                if sys.getrefcount(item) == _SOLE and _worth_emptying(item, 1):
                    _empty(item, 1)
                del item


def _worth_emptying(value: Any, depth: int) -> bool:
    """Whether to empty `value` rather than free it whole: an object of this project's (it may hold long
    containers), a tuple (a wrapper, such as a memo's stamp and value), a long container, or any container near
    an object."""
    if isinstance(value, tuple):
        return True
    if isinstance(value, dict | list | set):
        return len(value) > _FREED_WHOLE or depth < _NEAR
    return type(value).__module__.startswith("mock_server.")


def _slot_names(kind: type) -> list[str]:
    return [name for klass in kind.__mro__ for name in getattr(klass, "__slots__", ()) if name != "__weakref__"]


class Shed(list[T]):
    """A list that lets go of its items a little at a time once it is dropped (see `let_go`): for answers of many
    records made afresh, such as a timeline period of 10k rendered deals, whose freeing took 20 ms in one call."""

    def __del__(self) -> None:
        let_go(self)


def paginate(records: Iterable[Record], start: int, limit: int, render: Callable[[Record], Any]) -> Page:
    """Render only the requested slice; everything before it was filtered and ordered by the caller.

    `records` may be lazy: only the records up to the page and one more (to tell whether more follow) are drawn,
    so a page of a large account costs the page, not the account.
    """
    # islice takes no index past sys.maxsize; no collection is that long, so such a page is empty.
    window = list(islice(records, min(start, sys.maxsize), min(start + limit + 1, sys.maxsize)))
    return Page([render(record) for record in window[:limit]], start, limit, len(window) > limit)


def sorted_lazily(items: list[T], key: Callable[[T], Any], reverse: bool = False) -> Iterable[T]:
    """`sorted(items, key=key, reverse=reverse)`, ties in the same (stable) order, but a long list is sorted in
    pieces merged as they are drawn: a sort holds the GIL throughout, and a page draws only its own items."""
    if len(items) <= PIECE:
        return sorted(items, key=key, reverse=reverse)
    pieces = [sorted(items[at : at + PIECE], key=key, reverse=reverse) for at in range(0, len(items), PIECE)]
    # merge draws from the earlier piece on equal keys (with `reverse` too), as one stable sort would.
    return heapq.merge(*pieces, key=key, reverse=reverse)


def listed(items: Iterable[T]) -> list[T]:
    """`list(items)`, drawn a piece at a time: listing a million records at once is one C call of 15-30 ms that
    holds the GIL throughout."""
    out: list[T] = []
    for piece in in_pieces(items):
        out += piece
    return out


def in_pieces(items: Iterable[T]) -> Iterator[list[T]]:
    """`items` as lists of up to `PIECE` of them, in order."""
    iterator = iter(items)
    while piece := list(islice(iterator, PIECE)):
        yield piece


class Sharded(Generic[V]):
    """Records by id in tables of up to `SHARD` ids each, for a collection too big for one dict (see `SHARD`).

    It reads and iterates as a dict filled in the same order would, provided new ids ascend: a collection is loaded
    this way only when its ids ascend, and hands out ids above all it holds. A shard is found by bisecting the
    first ids of the shards, so gaps between ids cost nothing. An id below the highest that is not yet held (which
    a collection never sets) goes to the shard of its range, after that shard's own ids.
    """

    __slots__ = ("_firsts", "_shards", "_size")

    def __init__(self, records: Sequence[Record] = ()) -> None:
        """Hold `records`, whose ids must ascend, a shard at a time."""
        self._firsts: list[int] = []
        self._shards: list[dict[int, V]] = []
        self._size = 0
        for at in range(0, len(records), SHARD):
            shard = {record["id"]: record for record in records[at : at + SHARD]}
            self._firsts.append(records[at]["id"])
            self._shards.append(cast(dict[int, V], shard))
            self._size += len(shard)

    def _shard(self, key: object) -> dict[int, V] | None:
        """The shard that holds `key` if any does; None for a key below every shard or one no id equals."""
        try:
            at = bisect_right(self._firsts, key) - 1  # type: ignore[call-overload]
        except TypeError:  # None, a string: no id compares with it, and no id equals it
            return None
        return self._shards[at] if at >= 0 else None

    @overload
    def get(self, key: object, /) -> V | None: ...

    @overload
    def get(self, key: object, default: V | T, /) -> V | T: ...

    def get(self, key: object, default: Any = None, /) -> Any:
        shard = self._shard(key)
        return default if shard is None else shard.get(key, default)  # type: ignore[call-overload]

    def __getitem__(self, key: int) -> V:
        shard = self._shard(key)
        if shard is None:
            raise KeyError(key)
        return shard[key]

    def __contains__(self, key: object) -> bool:
        shard = self._shard(key)
        return shard is not None and key in shard

    def __setitem__(self, key: int, value: V) -> None:
        shard = self._shard(key)
        if shard is not None and key in shard:
            shard[key] = value
            return
        self._size += 1
        shards, firsts = self._shards, self._firsts
        if not shards or (shard is shards[-1] and len(shard) >= SHARD):
            firsts.append(key)
            shards.append({key: value})
        elif shard is None:  # below the first shard
            firsts[0] = key
            shards[0][key] = value
        else:
            shard[key] = value

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[int]:
        return chain.from_iterable(self._shards)

    def values(self) -> Iterator[V]:
        return chain.from_iterable(map(dict.values, self._shards))

    def items(self) -> Iterator[tuple[int, V]]:
        return chain.from_iterable(map(dict.items, self._shards))


def shardable(records: Sequence[Record]) -> bool:
    """Whether `records` are many enough for a `Sharded` table, and their ids ascend (a piece at a time)."""
    if len(records) <= SHARD:
        return False
    last = None
    for piece in in_pieces(map(operator.itemgetter("id"), records)):
        if not all(isinstance(record_id, int) for record_id in piece):
            return False
        if (last is not None and piece[0] <= last) or not all(map(operator.lt, piece, piece[1:])):
            return False
        last = piece[-1]
    return True


class Base(Protocol[K, V_co]):
    """A table a `Layered` one lies over: a dict, or a `Sharded` table."""

    def get(self, key: K, default: Any, /) -> Any: ...

    def __getitem__(self, key: K, /) -> V_co: ...

    def __contains__(self, key: object, /) -> bool: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[K]: ...

    def values(self) -> Iterable[V_co]: ...

    def items(self) -> Iterable[tuple[K, V_co]]: ...


class Layered(Generic[K, V]):
    """A fork's table over its origin's (the base, which never changes again): only the keys set in the fork are
    stored here, so a fork of a big table costs nothing up front. It reads and iterates as a copy of the base would:
    a key set again keeps its place, new keys come last."""

    __slots__ = ("_base", "_mine", "_added")

    def __init__(self, base: Base[K, V], mine: dict[K, V] | None = None, added: dict[K, V] | None = None) -> None:
        self._base = base
        self._mine: dict[K, V] = {} if mine is None else mine  # every key set here
        self._added: dict[K, V] = {} if added is None else added  # those of them the base lacks, in order

    def fork(self) -> Layered[K, V]:
        """A table of its own over the same base, with a copy of what is set here."""
        return Layered(self._base, dict(self._mine), dict(self._added))

    @overload
    def get(self, key: K) -> V | None: ...

    @overload
    def get(self, key: K, default: V | T) -> V | T: ...

    def get(self, key: K, default: Any = None) -> Any:
        mine = self._mine
        if key in mine:
            return mine[key]
        return self._base.get(key, default)

    def __getitem__(self, key: K) -> V:
        mine = self._mine
        return mine[key] if key in mine else self._base[key]

    def __setitem__(self, key: K, value: V) -> None:
        self._mine[key] = value
        if key not in self._base:
            self._added[key] = value

    def setdefault(self, key: K, default: V) -> V:
        if key not in self:
            self[key] = default
        return self[key]

    def __contains__(self, key: object) -> bool:
        return key in self._mine or key in self._base

    def __len__(self) -> int:
        return len(self._base) + len(self._added)

    def __iter__(self) -> Iterator[K]:
        return chain(self._base, self._added)

    def values(self) -> Iterator[V]:
        base, mine = self._base, self._mine
        if not mine:
            return iter(base.values())
        return chain(map(mine.get, base, base.values()), self._added.values())

    def items(self) -> Iterator[tuple[K, V]]:
        base, mine = self._base, self._mine
        if not mine:
            return iter(base.items())
        return chain(zip(base, map(mine.get, base, base.values()), strict=True), self._added.items())


Table = dict[K, V] | Layered[K, V]


def fork_table(table: Table[K, V]) -> Table[K, V]:
    """A fork's own table, equal to `table` (which must not change after): a copy while small, else a `Layered`."""
    if isinstance(table, Layered):
        return table.fork()
    if len(table) > LAYER_ABOVE:
        return Layered(table)
    return dict(table)


class Collection:
    """Records of one resource in insertion order. Stored dicts never leave the domain: callers render copies.

    A collection made by `fork` shares its records and index entries with the one it was forked from, copying a
    record only when it is about to change (`own`) and an index entry only when it files a record differently.
    Tenants fork one built account this way, so a new tenant costs a few dict copies, not a copy of every record;
    the tables of a big collection are not copied either but layered over its origin's (see `Layered`).
    """

    def __init__(self, label: str, records: Iterable[Record] = (), *, indexes: Sequence[str] = ()) -> None:
        self.label = label
        self._records: Table[int, Record] | Sharded[Record] = {}
        self._indexes: dict[str, Table[Any, dict[int, None]]] = {name: {} for name in indexes}
        # Ids of records and keys of index entries this collection may change in place; None: all of them.
        self._owned: set[int] | None = None
        self._owned_keys: dict[str, set[Any]] | None = None
        # Index entries `change` or `reorder_index` filed anew, by field: only these may be out of insertion order.
        self._refiled: dict[str, set[Any]] = {name: set() for name in indexes}
        # Counts changes, so that views derived from the records (`memo`) know when they are stale.
        self.version = 0
        self._memo: dict[str, tuple[tuple[int, ...], Any]] = {}
        # What changed since `take_changes` last asked, so a durable store writes only that.
        self._changed: dict[int, None] = {}
        self._reordered = False
        self._load(records)
        # The highest id, a piece at a time: `max` over a million ids is one C call of 20 ms that holds the GIL.
        self._last_id = max(map(max, in_pieces(self._records)), default=0)

    def _load(self, records: Iterable[Record]) -> None:
        """Store loaded records and index them, one index at a time: a generated account loads a million."""
        records = records if isinstance(records, list) else listed(records)
        if shardable(records):
            self._records = Sharded(records)
        stored = self._records
        if isinstance(stored, dict):
            for record in records:
                stored[record["id"]] = record
        for name, index in self._indexes.items():
            for record_id, record in stored.items():
                value = record.get(name)
                bucket = index.get(value)
                if bucket is None:
                    bucket = index[value] = {}
                bucket[record_id] = None
        self.version += len(stored)

    def fork(self) -> Collection:
        """A copy that shares every record with this one until either changes it; this one must not change after."""
        clone = copy.copy(self)
        records = self._records
        clone._records = Layered(records) if isinstance(records, Sharded) else fork_table(records)
        clone._indexes = {name: fork_table(index) for name, index in self._indexes.items()}
        clone._owned = set()
        clone._owned_keys = {name: set() for name in self._indexes}
        clone._refiled = {name: set(values) for name, values in self._refiled.items()}
        clone._memo = {}
        clone._changed = {}
        clone._reordered = False
        clone.forked()
        return clone

    def forked(self) -> None:
        """Drop what a subclass keeps about its records besides `memo` (called on a fresh fork)."""

    def memo(self, name: str, build: Callable[[], T], *depends: Collection) -> T:
        """`build()`, kept until this collection or one it `depends` on changes: for views that read every record."""
        stamp = (self.version, *(collection.version for collection in depends))
        kept = self._memo.get(name)
        if kept is not None and kept[0] == stamp:
            return cast(T, kept[1])
        if kept is not None and isinstance(kept[1], dict):
            let_go(kept[1])
        value = build()
        self._memo[name] = (stamp, value)
        return value

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
