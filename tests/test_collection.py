"""Unit tests of mock_server.domain.collection: lookups, ids, indexes, soft delete and pagination."""

from __future__ import annotations

import copy
import random
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from mock_server.domain.collection import Collection, paginate
from mock_server.errors import MissingReference, NotFound


def persons() -> Collection:
    return Collection(
        "Person",
        [
            {"id": 1, "name": "Aino", "org_id": 10},
            {"id": 4, "name": "Bert", "org_id": 20},
            {"id": 2, "name": "Cecilia", "org_id": 10},
        ],
        indexes=("org_id",),
    )


def soft_delete(collection: Collection, record_id: int) -> None:
    collection.change(collection.get(record_id), {"active_flag": False})


# --- lookups ------------------------------------------------------------------------------------------------------


def test_get__answers_the_record_with_that_id() -> None:
    assert persons().get(4)["name"] == "Bert"


def test_get__unknown_id_raises_not_found_naming_label_and_id() -> None:
    with pytest.raises(NotFound, match="Person with id 99 not found"):
        persons().get(99)


def test_get__soft_deleted_record_raises_not_found() -> None:
    collection = persons()
    soft_delete(collection, 4)

    with pytest.raises(NotFound):
        collection.get(4)


def test_find__unknown_id_is_none() -> None:
    assert persons().find(99) is None


def test_find__soft_deleted_record_is_none() -> None:
    collection = persons()
    soft_delete(collection, 1)

    assert collection.find(1) is None


def test_find_any__answers_a_soft_deleted_record() -> None:
    collection = persons()
    soft_delete(collection, 1)

    record = collection.find_any(1)

    assert record is not None and record["active_flag"] is False


def test_require__unknown_id_raises_missing_reference_naming_the_field() -> None:
    with pytest.raises(MissingReference, match="person_id 99 does not exist") as raised:
        persons().require("person_id", 99)

    assert raised.value.status == 404
    assert raised.value.field == "person_id"


def test_require__answers_an_active_record() -> None:
    assert persons().require("person_id", 2)["name"] == "Cecilia"


# --- add and ids --------------------------------------------------------------------------------------------------


def test_add__gives_the_id_after_the_highest_loaded_one() -> None:
    collection = persons()

    assert collection.add({"name": "Dana", "org_id": None})["id"] == 5


def test_add__ids_keep_increasing_and_ignore_a_given_id() -> None:
    collection = persons()

    first = collection.add({"id": 1, "name": "Dana"})
    second = collection.add({"name": "Eero"})

    assert (first["id"], second["id"]) == (5, 6)
    assert collection.get(1)["name"] == "Aino"


def test_add__empty_collection_starts_at_1() -> None:
    assert Collection("Note").add({"text": "hello"})["id"] == 1


def test_add__record_is_found_and_counted() -> None:
    collection = persons()

    record = collection.add({"name": "Dana", "org_id": 30})

    assert collection.get(record["id"]) is record
    assert len(collection) == 4


def test_add__record_joins_its_index() -> None:
    collection = persons()

    record = collection.add({"name": "Dana", "org_id": 10})

    assert [person["id"] for person in collection.where("org_id", 10)] == [1, 2, record["id"]]


# --- where and change ---------------------------------------------------------------------------------------------


def test_where__answers_matching_records_in_insertion_order() -> None:
    assert [person["name"] for person in persons().where("org_id", 10)] == ["Aino", "Cecilia"]


def test_where__unmatched_value_is_empty() -> None:
    assert persons().where("org_id", 99) == []


def test_where__record_without_the_field_is_indexed_under_none() -> None:
    collection = Collection("Person", [{"id": 1, "name": "Aino"}], indexes=("org_id",))

    assert [person["id"] for person in collection.where("org_id", None)] == [1]


def test_change__moves_the_record_between_index_entries() -> None:
    collection = persons()

    collection.change(collection.get(1), {"org_id": 20})

    assert [person["id"] for person in collection.where("org_id", 10)] == [2]
    assert [person["id"] for person in collection.where("org_id", 20)] == [4, 1]


def test_change__updates_the_stored_record() -> None:
    collection = persons()

    collection.change(collection.get(1), {"name": "Aino K.", "org_id": 20})

    assert collection.get(1) == {"id": 1, "name": "Aino K.", "org_id": 20}


def test_change__unindexed_field_leaves_the_index_alone() -> None:
    collection = persons()

    collection.change(collection.get(1), {"name": "Aino K."})

    assert [person["id"] for person in collection.where("org_id", 10)] == [1, 2]


def test_where__leaves_out_soft_deleted_records() -> None:
    collection = persons()
    soft_delete(collection, 1)

    assert [person["id"] for person in collection.where("org_id", 10)] == [2]


# --- soft delete --------------------------------------------------------------------------------------------------


def test_active__leaves_out_soft_deleted_records_but_all_keeps_them() -> None:
    collection = persons()
    soft_delete(collection, 4)

    assert [person["id"] for person in collection.active()] == [1, 2]
    assert [person["id"] for person in collection.all()] == [1, 4, 2]
    assert len(collection) == 3


def test_active__record_without_active_flag_counts_as_active() -> None:
    collection = Collection("Person", [{"id": 1}, {"id": 2, "active_flag": True}, {"id": 3, "active_flag": False}])

    assert [person["id"] for person in collection.active()] == [1, 2]


def test_add__after_soft_delete_does_not_reuse_the_id() -> None:
    collection = persons()
    soft_delete(collection, 4)

    assert collection.add({"name": "Dana"})["id"] == 5


# --- pagination ---------------------------------------------------------------------------------------------------


def numbered(count: int) -> list[dict[str, Any]]:
    return [{"id": number} for number in range(1, count + 1)]


def test_paginate__renders_only_the_requested_slice() -> None:
    rendered: list[int] = []

    def render(record: dict[str, Any]) -> int:
        rendered.append(record["id"])
        return int(record["id"]) * 10

    page = paginate(numbered(10), 3, 4, render)

    assert page.items == [40, 50, 60, 70]
    assert rendered == [4, 5, 6, 7]
    assert page.more is True


def test_paginate__draws_only_the_page_and_one_more_from_a_lazy_list() -> None:
    drawn: list[int] = []

    def records() -> Iterator[dict[str, Any]]:
        for record in numbered(1000):
            drawn.append(record["id"])
            yield record

    page = paginate(records(), 10, 5, dict)

    assert [record["id"] for record in page.items] == [11, 12, 13, 14, 15]
    assert drawn == list(range(1, 17))
    assert page.more is True


def test_paginate__start_beyond_any_index_is_an_empty_page() -> None:
    page = paginate(iter(numbered(3)), 2**80, 5, dict)

    assert page.items == []
    assert page.more is False


def test_paginate__start_past_the_end_is_an_empty_page() -> None:
    page = paginate(numbered(3), 5, 2, dict)

    assert page.items == []
    assert page.pagination() == {"start": 5, "limit": 2, "more_items_in_collection": False}


def test_pagination__with_more_items_gives_next_start() -> None:
    assert paginate(numbered(10), 2, 3, dict).pagination() == {
        "start": 2,
        "limit": 3,
        "more_items_in_collection": True,
        "next_start": 5,
    }


def test_pagination__page_ending_exactly_at_the_end_has_no_more() -> None:
    page = paginate(numbered(6), 3, 3, dict)

    assert len(page.items) == 3
    assert page.pagination() == {"start": 3, "limit": 3, "more_items_in_collection": False}


@pytest.mark.parametrize(("start", "limit", "total", "more"), [(0, 5, 6, True), (0, 5, 5, False), (4, 1, 6, True)])
def test_page_more__is_true_only_when_items_lie_beyond_the_page(start: int, limit: int, total: int, more: bool) -> None:
    page = paginate(iter(numbered(total)), start, limit, dict)

    assert page.more is more
    assert ("next_start" in page.pagination()) is more


class Item:
    pass


class Table(dict[int, Any]):
    """A dict its items can watch (a plain dict takes no weak reference)."""


class Watched:
    """An item that notes, as it is freed, how many items its table still held: None once the table was gone."""

    def __init__(self, table: Table, deaths: list[int | None]) -> None:
        self.table = weakref.ref(table)
        self.deaths = deaths

    def __del__(self) -> None:
        table = self.table()
        self.deaths.append(None if table is None else len(table))


def out_of_order(collection: Collection) -> dict[str, dict[Any, list[int]]]:
    """Every index entry whose ids are not in the records' insertion order, found by looking at all of them."""
    position = {record["id"]: number for number, record in enumerate(collection.all())}
    orders: dict[str, dict[Any, list[int]]] = {}
    for name in collection.index_fields:
        values = dict.fromkeys(record.get(name) for record in collection.all())
        moved = [
            (value, ids)
            for value in values
            if (ids := collection.index_ids(name, value)) != sorted(ids, key=position.get)
        ]
        if moved:
            orders[name] = dict(moved)
    return orders


def index_orders(collection: Collection) -> dict[str, dict[Any, list[int]]]:
    return {name: dict(entries) for name, entries in collection.index_orders().items()}


def test_index_orders__are_the_entries_out_of_insertion_order() -> None:
    collection = people(12)
    assert index_orders(collection) == out_of_order(collection) == {}
    collection.change(collection.get(3), {"org_id": 1})  # filed after 9, which came later
    collection.change(collection.get(12), {"org_id": 2})  # the newest record: filed last, still in order
    fork = collection.fork()
    for changed in (collection, fork):
        changed.reorder_index("org_id", 3, [11, 7])
        assert index_orders(changed) == out_of_order(changed)
    fork.change(fork.own(fork.get(1)), {"org_id": 0})
    fork.reorder_index("org_id", 3, [7, 11])
    assert index_orders(fork) == out_of_order(fork)
    assert index_orders(fork) != index_orders(collection)


# --- forks (how tenants share one built account) -------------------------------------------------------------------


def test_fork__changes_stay_in_the_fork() -> None:
    original = persons()
    fork = original.fork()
    fork.change(fork.own(fork.get(4)), {"name": "Berta", "org_id": 10})
    assert fork.get(4)["name"] == "Berta"
    assert [record["id"] for record in fork.where("org_id", 10)] == [1, 2, 4]
    assert original.get(4)["name"] == "Bert"
    assert [record["id"] for record in original.where("org_id", 10)] == [1, 2]
    assert [record["id"] for record in original.where("org_id", 20)] == [4]


def test_fork__added_records_stay_in_the_fork() -> None:
    original = persons()
    fork = original.fork()
    added = fork.add({"name": "Dora", "org_id": 20})
    fork.change(added, {"name": "Dorothea"})
    assert fork.get(added["id"])["name"] == "Dorothea"
    assert original.find(added["id"]) is None
    assert [record["id"] for record in original.where("org_id", 20)] == [4]


def test_fork__changing_a_record_not_owned_is_refused() -> None:
    fork = persons().fork()
    with pytest.raises(RuntimeError, match="own"):
        fork.change(fork.get(1), {"name": "Nobody"})


def test_fork__own_copies_nested_values_too() -> None:
    original = Collection("Person", [{"id": 1, "email": [{"value": "a@example.com"}]}])
    fork = original.fork()
    fork.own(fork.get(1))["email"][0]["value"] = "b@example.com"
    assert original.get(1)["email"][0]["value"] == "a@example.com"


def test_fork__reordered_index_stays_in_the_fork() -> None:
    original = persons()
    fork = original.fork()
    fork.reorder_index("org_id", 10, [2, 1])
    assert fork.index_ids("org_id", 10) == [2, 1]
    assert original.index_ids("org_id", 10) == [1, 2]


def people(count: int) -> Collection:
    return Collection(
        "Person",
        [{"id": number, "name": f"P{number}", "org_id": number % 4} for number in range(1, count + 1)],
        indexes=("org_id",),
    )


def seen(collection: Collection) -> dict[str, Any]:
    """Everything a reader of the collection can tell apart."""
    return {
        "all": list(collection.all()),
        "active": list(collection.active()),
        "where": {org: collection.where("org_id", org) for org in range(-1, 6)},
        "index_ids": {org: collection.index_ids("org_id", org) for org in range(-1, 6)},
        "index_orders": collection.index_orders(),
        "found": [collection.find_any(number) for number in range(0, 30)],
        "len": len(collection),
        "last_id": collection.last_id,
        "changes": collection.take_changes(),
    }


def exercised(fork: Collection) -> Collection:
    """A fork after adds, changes (its own records and its origin's), soft deletes and a reordered index."""
    fork.change(fork.own(fork.get(3)), {"name": "Changed", "org_id": 5})
    added = fork.add({"name": "New", "org_id": 1})
    fork.add({"name": "Newer", "org_id": 5, "active_flag": True})
    fork.change(added, {"org_id": 2})
    fork.change(fork.own(fork.get(6)), {"active_flag": False})
    fork.drop_keys(fork.get(8), ["name"])
    fork.reorder_index("org_id", 1, list(reversed(fork.index_ids("org_id", 1))))
    return fork


def test_fork__reads_as_a_copy_would_and_leaves_its_origin_as_it_was() -> None:
    origin = people(20)
    origin.take_changes()
    before = seen(origin)
    copied = copy.deepcopy(origin)

    assert seen(exercised(origin.fork())) == seen(exercised(copied))
    assert seen(origin) == before


def test_the_next_id_follows_the_highest_loaded_one_in_whatever_order_and_however_many() -> None:
    ids = [*range(1, 10_007)]
    random.Random(5).shuffle(ids)
    collection = Collection("Thing", [{"id": record_id} for record_id in ids])

    assert collection.last_id == 10_006
    assert collection.add({})["id"] == 10_007
