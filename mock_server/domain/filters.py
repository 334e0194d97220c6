"""Saved filters: storage, the type they apply to, and the field references in their conditions."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mock_server.domain.collection import Collection, Record
from mock_server.errors import Invalid, MissingReference, NotImplementedYet

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
        self._check_conditions(body["conditions"])
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
        record = self.get(filter_id)
        self._check_conditions(body["conditions"])
        changes = {"conditions": body["conditions"], "update_time": self.account.clock.stamp()}
        if body.get("name"):
            changes["name"] = body["name"]
        self.change(record, changes)
        return record

    def for_list(self, filter_id: int, filter_type: str) -> Record:
        """The filter named by a list's `filter_id`; one made for another kind of record is a 400."""
        record = self.require("filter_id", filter_id)
        if record["type"] != filter_type:
            raise Invalid(
                f"filter_id {filter_id} is a filter of type '{record['type']}', this list takes '{filter_type}'."
            )
        return record

    def apply(self, filter_id: int, filter_type: str, records: list[Record]) -> list[Record]:
        """The records of a list that match a saved filter."""
        self.for_list(filter_id, filter_type)
        raise NotImplementedYet("Evaluating saved filters (filter_id) is not served by this version of the mock yet.")

    def _check_conditions(self, conditions: dict[str, Any]) -> None:
        count = 0
        for group in conditions.get("conditions", []):
            for condition in group.get("conditions", []):
                count += 1
                fields = self._fields_of(condition["object"])
                if fields is not None and fields.find(_as_id(condition["field_id"])) is None:
                    raise MissingReference("field_id", condition["field_id"])
        if count > 16:
            raise Invalid(f"A filter takes at most 16 conditions; these conditions have {count}.")

    def _fields_of(self, object_name: str) -> Fields | None:
        return {"deal": self.account.deal_fields, "activity": self.account.activity_fields}.get(object_name)

    def render(self, record: Record, *, details: bool = False) -> Record:
        if details:
            return copy.deepcopy(record)
        return {key: record[key] for key in LIST_KEYS}


def _as_id(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1
