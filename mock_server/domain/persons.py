"""Persons: contact lists of emails and phones, the organization a person belongs to, and the person as shown."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mock_server.domain.collection import Record
from mock_server.domain.contacts import CONTACT_KINDS, DEFAULT_VISIBILITY, Contacts
from mock_server.domain.deal_views import render_person
from mock_server.domain.related import Related
from mock_server.errors import Invalid

if TYPE_CHECKING:
    from mock_server.domain.account import Account

WRITABLE = ("name", "first_name", "last_name", "owner_id", "org_id", "email", "phone", "label", "visible_to",
            "add_time")  # fmt: skip
DEFAULT_LABEL = "work"


def contact_list(field: str, value: Any) -> list[Record]:
    """A person's `email` or `phone` as stored: a list of `{value, primary, label}`, exactly one primary when any.
    A plain string is one primary entry; an empty string or null is none."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [{"value": value, "primary": True, "label": DEFAULT_LABEL}]
    if not isinstance(value, list):
        raise Invalid(f"{field} takes a string or a list of {{value, primary, label}}, not {value!r}.")
    entries = []
    for position, entry in enumerate(value):
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
            raise Invalid(f"{field}[{position}] must be an object with a string `value`, not {entry!r}.")
        primary = entry.get("primary", False)
        label = entry.get("label", DEFAULT_LABEL)
        if not isinstance(primary, bool) or not isinstance(label, str):
            raise Invalid(f"{field}[{position}]: `primary` takes true or false and `label` a string.")
        entries.append({"value": entry["value"], "primary": primary, "label": label or DEFAULT_LABEL})
    primaries = sum(entry["primary"] for entry in entries)
    if primaries > 1:
        raise Invalid(f"{field}: {primaries} entries are marked primary; at most one can be.")
    if entries and not primaries:
        entries[0]["primary"] = True
    return entries


class Persons(Contacts):
    link = "person_id"
    fields_name = "person_fields"
    noun = "person"

    def __init__(self, account: Account, records: Iterable[Record]) -> None:
        super().__init__(account, "Person", records, indexes=("org_id",))

    def create(self, body: dict[str, Any]) -> Record:
        fields = self._person_fields(body)
        if "name" not in fields:
            raise Invalid("A person needs a name: give `name` at least one character.")
        first, last = _split(fields["name"])
        record: Record = {
            "first_name": first,
            "last_name": last,
            "org_id": None,
            "email": [],
            "phone": [],
            "label": None,
        }
        return self._new(body, {**record, **fields})

    def modify(self, person_id: int, body: dict[str, Any]) -> Record:
        self.get(person_id)
        fields = self._person_fields(body)
        if "name" in fields:
            first, last = _split(fields["name"])
            fields = {"first_name": first, "last_name": last, **fields}
        return self._modified(person_id, fields, body)

    def _person_fields(self, body: dict[str, Any]) -> Record:
        fields = self._checked(body, WRITABLE)
        if fields.get("org_id") is not None:
            self.account.organizations.require("org_id", fields["org_id"])
        for kind in CONTACT_KINDS:
            if kind in fields:
                fields[kind] = contact_list(kind, fields[kind])
        return fields

    def _merged_values(self, kept: Record, merged: Record) -> Record:
        """Both persons' emails and phones, the kept person's first (and its primary), each value once."""
        values = {}
        for kind in CONTACT_KINDS:
            known = {entry["value"] for entry in kept[kind]}
            extra = [{**entry, "primary": False} for entry in merged[kind] if entry["value"] not in known]
            combined = [dict(entry) for entry in kept[kind]] + extra
            if combined and not any(entry["primary"] for entry in combined):
                combined[0]["primary"] = True
            values[kind] = combined
        return values

    def render(self, person: Record, related: Related | None = None) -> Record:
        """The person as lists and details show it: the deal's person shape, the counts derived on read, its
        visibility and its custom field values."""
        out = render_person(self.account, person)
        out.update(self.derived(person))
        out["visible_to"] = person.get("visible_to", DEFAULT_VISIBILITY)
        out.update(self.custom_of(person))
        if related is not None:
            related.add("user", person["owner_id"])
            related.add("organization", person["org_id"])
        return out


def _split(name: str) -> tuple[str, str | None]:
    """First and last name of a full name: its first word, and the rest (or none)."""
    first, _, last = name.strip().partition(" ")
    return first, last.strip() or None
