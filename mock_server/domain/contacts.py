"""What persons and organizations share: owners and visibility, contact lists, counts derived on read, listing,
sorting, soft deletes in bulk, and merging (the merged record's deals, activities and notes move to the kept one)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from mock_server.domain.collection import Collection, Record
from mock_server.domain.fields import COMPANIONS, Fields, is_custom
from mock_server.domain.related import Related, user_summary
from mock_server.errors import Invalid

if TYPE_CHECKING:
    from mock_server.domain.account import Account

# `visible_to` of a record that was added without one: "3", the owner's visibility group (see spec/DEVIATIONS.md).
DEFAULT_VISIBILITY = "3"
VISIBILITIES = ("1", "3", "5", "7")
# The records that point at a person or an organization and move with it when it is merged into another.
LINKED = ("deals", "activities", "notes")
CONTACT_KINDS = ("email", "phone")
# The derived fields a filter condition or a sort may name.
DERIVED_KEYS = (
    "open_deals_count",
    "closed_deals_count",
    "won_deals_count",
    "lost_deals_count",
    "activities_count",
    "done_activities_count",
    "undone_activities_count",
    "next_activity_date",
    "last_activity_date",
)


def _due_key(activity: Record) -> tuple[str, str, int]:
    return (activity["due_date"] or "9999-12-31", activity["due_time"] or "", activity["id"])


class Contacts(Collection):
    """Persons or organizations: `link` is the field by which deals, activities and notes point at one of them."""

    link: str
    fields_name: str
    noun: str

    def __init__(self, account: Account, label: str, records: Iterable[Record], indexes: tuple[str, ...] = ()) -> None:
        super().__init__(label, records, indexes=indexes)
        self.account = account

    @property
    def fields(self) -> Fields:
        fields: Fields = getattr(self.account, self.fields_name)
        return fields

    # --- writes shared by both kinds ----------------------------------------------------------------------------

    def _new(self, body: dict[str, Any], fields: Record) -> Record:
        """The stored record of an add: owner and visibility from the token's user unless the body names them."""
        account = self.account
        now = body.get("add_time") or account.clock.stamp()
        record: Record = {
            "owner_id": account.user_id,
            "visible_to": DEFAULT_VISIBILITY,
            **fields,
            "active_flag": True,
            "add_time": now,
            "update_time": now,
            "created_by_user_id": account.user_id,
            "last_updated_by_user_id": account.user_id,
        }
        record.update(self.fields.custom_values(body))
        return self.add(record)

    def _checked(self, body: dict[str, Any], writable: tuple[str, ...]) -> Record:
        """The writable fields of a body, references and values checked."""
        account = self.account
        fields = {key: body[key] for key in writable if key in body}
        if "name" in fields and not (fields["name"] or "").strip():
            raise Invalid(f"{self.noun.capitalize()} name cannot be empty: give `name` at least one character.")
        if fields.get("owner_id") is not None:
            account.users.require("owner_id", fields["owner_id"])
        elif "owner_id" in fields:
            del fields["owner_id"]
        if fields.get("visible_to") is not None:
            fields["visible_to"] = str(fields["visible_to"])
            if fields["visible_to"] not in VISIBILITIES:
                raise Invalid(f"visible_to takes one of {', '.join(VISIBILITIES)}, not {body['visible_to']!r}.")
        elif "visible_to" in fields:
            del fields["visible_to"]
        if "add_time" in fields:
            del fields["add_time"]  # only an add takes it (see `_new`)
        return fields

    def _modified(self, record_id: int, fields: Record, body: dict[str, Any]) -> Record:
        changes = {**fields, **self.fields.custom_values(body)}  # checked before the record is touched
        record = self.own(self.get(record_id))
        changes.update(update_time=self.account.clock.stamp(), last_updated_by_user_id=self.account.user_id)
        self.change(record, changes)
        return record

    def remove(self, record_ids: list[int]) -> list[int]:
        """Soft-delete: every id must name an active record before anything changes. Deals, activities and notes
        keep pointing at a deleted record, which stays readable by id (see spec/DEVIATIONS.md)."""
        records = [self.get(record_id) for record_id in record_ids]
        now = self.account.clock.stamp()
        for record in map(self.own, records):
            self.change(record, {"active_flag": False, "update_time": now})
        return [record["id"] for record in records]

    def merge(self, record_id: int, merge_with_id: int) -> Record:
        """Merge `record_id` into `merge_with_id`: the kept record's values win, empty ones are filled from the merged
        record, linked deals, activities and notes move to the kept record, and the merged one is deleted."""
        if record_id == merge_with_id:
            raise Invalid(
                f"merge_with_id {merge_with_id} is this {self.noun} itself: merge it with another {self.noun}."
            )
        merged = self.get(record_id)
        kept = self.own(self.require("merge_with_id", merge_with_id))
        account = self.account
        now = account.clock.stamp()
        changes = {
            key: value
            for key, value in merged.items()
            if key not in ("id", "active_flag") and value is not None and kept.get(key) is None
        }
        changes.update(self._merged_values(kept, merged))
        changes.update(update_time=now, last_updated_by_user_id=account.user_id)
        self.move_links(record_id, merge_with_id, now)
        self.change(kept, changes)
        self.change(self.own(merged), {"active_flag": False, "update_time": now})
        return kept

    def _merged_values(self, kept: Record, merged: Record) -> Record:
        """Values that combine both records rather than pick one (a person's emails and phones)."""
        return {}

    def move_links(self, from_id: int, to_id: int, now: str) -> None:
        account = self.account
        for name in LINKED:
            collection: Collection = getattr(account, name)
            for record in collection.where(self.link, from_id):
                collection.change(collection.own(record), {self.link: to_id, "update_time": now})

    # --- reads --------------------------------------------------------------------------------------------------

    def render(self, record: Record, related: Related | None = None) -> Record:
        """The record as a read shows it (each kind of contact says how)."""
        raise NotImplementedError

    def query(self, *, user_id: int | None = None, first_char: str | None = None) -> list[Record]:
        """The active records of a list in id order, of one owner and by the first letter of the name."""
        if user_id is not None:
            self.account.users.require("user_id", user_id)
        letter = first_char.casefold()[:1] if first_char else None
        return [
            record
            for record in self.active()
            if (user_id is None or record["owner_id"] == user_id)
            and (letter is None or record["name"][:1].casefold() == letter)
        ]

    def derived(self, record: Record) -> Record:
        """The counts and dates computed from current state on every read: deals, activities, notes."""
        account = self.account
        deals = account.deals.where(self.link, record["id"])
        activities = account.activities.where(self.link, record["id"])
        won = sum(deal["status"] == "won" for deal in deals)
        lost = sum(deal["status"] == "lost" for deal in deals)
        done = [activity for activity in activities if activity["done"]]
        upcoming = min((a for a in activities if not a["done"]), key=_due_key, default=None)
        last = max(done, key=_due_key, default=None)
        return {
            "open_deals_count": sum(deal["status"] == "open" for deal in deals),
            "closed_deals_count": won + lost,
            "won_deals_count": won,
            "lost_deals_count": lost,
            "activities_count": len(activities),
            "done_activities_count": len(done),
            "undone_activities_count": len(activities) - len(done),
            "notes_count": len(account.notes.where(self.link, record["id"])),
            "next_activity_id": upcoming["id"] if upcoming else None,
            "next_activity_date": upcoming["due_date"] if upcoming else None,
            "next_activity_time": upcoming["due_time"] if upcoming else None,
            "last_activity_id": last["id"] if last else None,
            "last_activity_date": last["due_date"] if last else None,
        }

    def getters(self) -> dict[str, Callable[[Record], Any]]:
        """Readers of the fields computed on read, for filters and sorting."""
        return {name: _reader(self.derived, name) for name in DERIVED_KEYS}

    def custom_of(self, record: Record) -> Record:
        """The record's custom field values (and their companions), under their 40-hex keys."""
        values: Record = {}
        for field in self.fields.active():
            if is_custom(field):
                for key in (field["key"], field["key"] + COMPANIONS.get(field["field_type"], "")):
                    if key in record:
                        values[key] = record[key]
        return values

    def owner_value(self, owner_id: int) -> Record:
        owner = self.account.users.find_any(owner_id) or {}
        return {**user_summary(owner), "value": owner_id}

    def sort(self, records: list[Record], sort: str) -> list[Record]:
        """Order by `"field ASC, other DESC"`: first-level keys of the record (its fields' keys, custom ones too, and
        the counts derived on read); empty values last, text without case."""
        getters = self.getters()
        keys = {field["key"] for field in self.fields.active()} | set(getters)
        ordered = list(records)
        for clause in reversed([clause.split() for clause in sort.split(",") if clause.strip()]):
            field = clause[0]
            direction = clause[1].upper() if len(clause) > 1 else "ASC"
            if field not in keys or direction not in ("ASC", "DESC") or len(clause) > 2:
                raise Invalid(
                    f"sort: cannot sort by '{' '.join(clause)}'; use a {self.noun} field key followed by ASC or DESC."
                )
            read = getters.get(field) or operator.methodcaller("get", field)
            values = {record["id"]: read(record) for record in ordered}
            present = [record for record in ordered if values[record["id"]] is not None]
            missing = [record for record in ordered if values[record["id"]] is None]
            present.sort(key=lambda record: _sortable(values[record["id"]]), reverse=direction == "DESC")
            ordered = present + missing
        return ordered


def _reader(derive: Callable[[Record], Record], name: str) -> Callable[[Record], Any]:
    return lambda record: derive(record)[name]


def _sortable(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool | int | float):
        return (0, value)
    if isinstance(value, list):  # emails and phones: by the primary (first) value
        value = value[0]["value"] if value and isinstance(value[0], dict) else ""
    return (1, str(value).casefold())
