"""Deal, activity, person, organization and product fields: custom field creation (hex keys, option ids) and
typed custom values on the records that carry them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mock_server.domain.collection import Collection, Record
from mock_server.errors import Invalid

if TYPE_CHECKING:
    from mock_server.domain.account import Account

CUSTOM_KEY = re.compile(r"^[0-9a-f]{40}$")
COMPANIONS = {"monetary": "_currency", "daterange": "_until", "timerange": "_until"}
SEARCHABLE_TYPES = {"varchar", "text", "phone", "address"}
TEXT_TYPES = {"varchar", "text", "phone", "address"}


def is_custom(field: Record) -> bool:
    return bool(CUSTOM_KEY.match(field["key"]))


class Fields(Collection):
    def __init__(self, account: Account, label: str, records: Iterable[Record], *, holder: str = "deals") -> None:
        """`holder`: the account's collection whose records carry these fields' custom values."""
        super().__init__(label, records)
        self.account = account
        self.holder = holder

    def ordered(self) -> list[Record]:
        return sorted(self.active(), key=lambda field: (field["order_nbr"], field["id"]))

    def custom(self) -> list[Record]:
        return [field for field in self.active() if is_custom(field)]

    def by_key(self, key: str) -> Record | None:
        return next((field for field in self.active() if field["key"] == key), None)

    # --- custom fields ------------------------------------------------------------------------------------------

    def create(self, body: dict[str, Any]) -> Record:
        account = self.account
        now = account.clock.stamp()
        field_type = body["field_type"]
        key = account.random_hex(40)
        order = max((field["order_nbr"] for field in self.all()), default=0) + 1
        field: Record = {
            "key": key,
            "name": body["name"],
            "field_type": field_type,
            "order_nbr": order,
            "options": self._options(body.get("options"), []) if field_type in ("enum", "set") else None,
            "add_visible_flag": body.get("add_visible_flag", True),
            "active_flag": True,
            "edit_flag": True,
            "index_visible_flag": True,
            "details_visible_flag": True,
            "important_flag": False,
            "bulk_edit_allowed": True,
            "searchable_flag": field_type in SEARCHABLE_TYPES,
            "filtering_allowed": True,
            "sortable_flag": True,
            "mandatory_flag": False,
            "is_subfield": False,
            "subfields": self._subfields(key, body["name"], field_type),
            "add_time": now,
            "update_time": now,
            "created_by_user_id": account.user_id,
            "last_updated_by_user_id": account.user_id,
        }
        return self.add(field)

    def modify(self, field_id: int, body: dict[str, Any]) -> Record:
        field = self.own(self.get(field_id))
        changes: Record = {"name": body["name"]}
        if "add_visible_flag" in body:
            changes["add_visible_flag"] = body["add_visible_flag"]
        if field["field_type"] in ("enum", "set") and body.get("options") is not None:
            changes["options"] = self._options(body["options"], field["options"] or [])
        changes.update(update_time=self.account.clock.stamp(), last_updated_by_user_id=self.account.user_id)
        self.change(field, changes)
        return field

    def remove(self, field_id: int) -> Record:
        field = self.own(self.get(field_id))
        if not is_custom(field):
            raise Invalid(f"Field {field_id} ({field['key']}) is a built-in field and cannot be deleted.")
        self.change(field, {"active_flag": False, "update_time": self.account.clock.stamp()})
        keys = [field["key"], field["key"] + COMPANIONS.get(field["field_type"], "")]
        holder: Collection = getattr(self.account, self.holder)
        for record in [record for record in holder.all() if any(key in record for key in keys)]:
            holder.drop_keys(record, keys)
        return field

    def remove_many(self, field_ids: list[int]) -> list[Record]:
        """Delete custom fields in bulk: every id must name a custom field before anything changes."""
        unique = list(dict.fromkeys(field_ids))
        for field in [self.get(field_id) for field_id in unique]:
            if not is_custom(field):
                raise Invalid(f"Field {field['id']} ({field['key']}) is a built-in field and cannot be deleted.")
        return [self.remove(field_id) for field_id in unique]

    def _options(self, given: list[dict[str, Any]] | None, current: list[Record]) -> list[Record]:
        """Options keep their ids when given back by id or label; new labels get new ids; no id is used twice."""
        by_id = {option["id"]: option for option in current}
        by_label = {option["label"]: option for option in current}
        entries = given or []
        # An id given back explicitly wins over a label match, so a renamed option and a new option that took
        # its old label do not end up sharing one id.
        claimed = {entry.get("id") for entry in entries if entry.get("id") in by_id}
        used: set[int] = set()
        options = []
        for entry in entries:
            known = by_id.get(entry.get("id"))
            if known is None:
                known = by_label.get(entry.get("label"))
                if known is not None and known["id"] in claimed:
                    known = None
            if known is not None and known["id"] in used:
                known = None
            option_id = known["id"] if known else self.account.next_option_id()
            used.add(option_id)
            options.append({"id": option_id, "label": entry.get("label", known["label"] if known else "")})
        return options

    def _subfields(self, key: str, name: str, field_type: str) -> list[Record] | None:
        suffix = COMPANIONS.get(field_type)
        if suffix is None:
            return None
        label = "Currency of" if field_type == "monetary" else "End of"
        return [{"key": key + suffix, "name": f"{label} {name}", "field_type": "varchar" if suffix == "_currency"
                 else field_type.removesuffix("range")}]  # fmt: skip

    # --- values on records --------------------------------------------------------------------------------------

    def custom_values(self, body: dict[str, Any]) -> Record:
        """The body's values for this account's custom fields, checked against each field's type."""
        values: Record = {}
        for field in self.custom():
            key = field["key"]
            if key in body:
                values[key] = self._check(field, key, body[key])
            suffix = COMPANIONS.get(field["field_type"])
            if suffix and key + suffix in body:
                companion = body[key + suffix]
                if suffix == "_currency" and companion is not None:
                    self.account.currencies.require_code(key + suffix, companion)
                elif companion is not None:
                    self._check(field, key + suffix, companion)
                values[key + suffix] = companion
        return values

    def _check(self, field: Record, key: str, value: Any) -> Any:
        if value is None:
            return None
        kind = field["field_type"]
        name = f"Custom field '{field['name']}' ({key})"
        if kind in TEXT_TYPES:
            if not isinstance(value, str):
                raise Invalid(f"{name} takes a string, not {value!r}.")
        elif kind in ("double", "monetary"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise Invalid(f"{name} takes a number, not {value!r}.")
        elif kind in ("date", "daterange"):
            _parse(value, "%Y-%m-%d", f"{name} takes a date as YYYY-MM-DD, not {value!r}.")
        elif kind in ("time", "timerange"):
            _parse(value, "%H:%M", f"{name} takes a time as HH:MM, not {value!r}.")
        elif kind in ("user", "person", "org"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise Invalid(f"{name} takes the integer id of a {kind}, not {value!r}.")
            collection = {"user": self.account.users, "person": self.account.persons}.get(
                kind, self.account.organizations
            )
            collection.require(key, value)
        elif kind == "enum":
            self._check_options(field, name, [value])
        elif kind == "set":
            ids = value if isinstance(value, list) else str(value).split(",")
            self._check_options(field, name, ids)
            value = ",".join(str(int(option)) for option in ids)
        return value

    def _check_options(self, field: Record, name: str, values: list[Any]) -> None:
        known = {option["id"] for option in field["options"] or []}
        for value in values:
            try:
                option_id = int(value)
            except (TypeError, ValueError):
                option_id = None
            if option_id not in known or isinstance(value, bool):
                raise Invalid(f"{name} takes one of the option ids {sorted(known)}, not {value!r}.")


def _parse(value: Any, pattern: str, message: str) -> None:
    try:
        datetime.strptime(value, pattern)
    except (TypeError, ValueError):
        raise Invalid(message) from None
