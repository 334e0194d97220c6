"""Saved filters: storage, the type they apply to, checking their conditions, and applying them to lists."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from mock_server.domain import filtering
from mock_server.domain.collection import Collection, Record
from mock_server.errors import Invalid

if TYPE_CHECKING:
    from mock_server.domain.account import Account
    from mock_server.domain.fields import Fields

LIST_KEYS = ("id", "name", "type", "user_id", "active_flag", "temporary_flag", "add_time", "update_time")
OBJECT_FOR_TYPE = {"deals": "deal", "activity": "activity", "persons": "person", "org": "organization",
                   "products": "product"}  # fmt: skip


class Filters(Collection):
    def __init__(self, account: Account, records: Iterable[Record]) -> None:
        super().__init__("Filter", records)
        self.account = account

    def of_type(self, filter_type: str | None) -> list[Record]:
        return [record for record in self.active() if filter_type is None or record["type"] == filter_type]

    def create(self, body: dict[str, Any]) -> Record:
        self._check_conditions(body["type"], body["conditions"])
        now = self.account.clock.stamp()
        return self.add(
            {
                "name": body["name"],
                "type": body["type"],
                "user_id": self.account.user_id,
                "active_flag": True,
                "temporary_flag": False,
                "conditions": body["conditions"],
                "add_time": now,
                "update_time": now,
            }
        )

    def modify(self, filter_id: int, body: dict[str, Any]) -> Record:
        record = self.own(self.get(filter_id))
        self._check_conditions(record["type"], body["conditions"])
        changes = {"conditions": body["conditions"], "update_time": self.account.clock.stamp()}
        if body.get("name"):
            changes["name"] = body["name"]
        self.change(record, changes)
        return record

    def remove(self, filter_ids: list[int]) -> list[int]:
        """Marks the filters deleted; every id must name a filter before any is."""
        records = [self.get(filter_id) for filter_id in filter_ids]
        now = self.account.clock.stamp()
        for record in map(self.own, records):
            self.change(record, {"active_flag": False, "update_time": now})
        return [record["id"] for record in records]

    def for_list(self, filter_id: int, filter_type: str) -> Record:
        """The filter named by a list's `filter_id`; one made for another kind of record is a 400."""
        record = self.require("filter_id", filter_id)
        if record["type"] != filter_type:
            raise Invalid(
                f"filter_id {filter_id} is a filter of type '{record['type']}', this list takes '{filter_type}'."
            )
        return record

    def apply(self, filter_id: int, filter_type: str, records: Iterable[Record]) -> Iterator[Record]:
        """The records of a list that match a saved filter, lazily in their order; the filter is compiled once."""
        record = self.for_list(filter_id, filter_type)
        object_name = OBJECT_FOR_TYPE[filter_type]
        fields = self._fields_of(object_name)
        if fields is None:
            raise Invalid(f"Filters of type '{filter_type}' cannot be applied to a list in this mock.")
        # A field deleted since the filter was saved still names its key, which no record holds any more.
        matches = filtering.compile_filter(
            record["conditions"],
            object_name=object_name,
            find_field=fields.find_any,
            today=self.account.clock.today(),
            getters=self._derived(object_name),
            stored=True,
        )
        return (item for item in records if matches(item))

    def _check_conditions(self, filter_type: str, conditions: dict[str, Any]) -> None:
        object_name = OBJECT_FOR_TYPE[filter_type]
        fields = self._fields_of(object_name)
        if fields is None:
            # Filters of the other kinds are kept, never applied.
            filtering.condition_groups(conditions, object_name)
            return
        filtering.compile_filter(
            conditions, object_name=object_name, find_field=fields.find, today=self.account.clock.today()
        )

    def _fields_of(self, object_name: str) -> Fields | None:
        account = self.account
        fields = {"deal": account.deal_fields, "activity": account.activity_fields, "person": account.person_fields,
                  "organization": account.organization_fields, "product": account.product_fields}  # fmt: skip
        return fields.get(object_name)

    def _derived(self, object_name: str) -> dict[str, filtering.Getter]:
        """Readers of the fields that are computed on read rather than stored; a person's `email` and `phone`
        compare by their primary value."""
        if object_name == "person":
            primary = {
                "email": lambda person: _primary(person["email"]),
                "phone": lambda person: _primary(person["phone"]),
            }
            return {**self.account.persons.getters(), **primary}
        if object_name == "organization":
            return self.account.organizations.getters()
        if object_name != "deal":
            return {}
        activities, lines = self.account.activities, self.account.deal_products
        return {
            "next_activity_date": lambda deal: activities.deal_activity_fields(deal["id"])["next_activity_date"],
            "last_activity_date": lambda deal: activities.deal_activity_fields(deal["id"])["last_activity_date"],
            "products_count": lambda deal: len(lines.where("deal_id", deal["id"])),
        }

    def render(self, record: Record, *, details: bool = False) -> Record:
        if details:
            return copy.deepcopy(record)
        return {key: record[key] for key in LIST_KEYS}


def _primary(entries: list[Record]) -> str | None:
    """The primary value of a person's emails or phones (the first when none is marked), or None."""
    return next((entry["value"] for entry in entries if entry.get("primary")), entries[0]["value"] if entries else None)
