"""Notes on deals, persons and organizations: writes, the list's filters and sorting, and the note as shown."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from mock_server.domain.clock import parse_datetime
from mock_server.domain.collection import Collection, Record
from mock_server.errors import Invalid

if TYPE_CHECKING:
    from mock_server.domain.account import Account

LINKS = ("deal_id", "person_id", "org_id")
PINS = {"deal_id": "pinned_to_deal_flag", "person_id": "pinned_to_person_flag", "org_id": "pinned_to_organization_flag"}
SORTABLE = ("id", "user_id", "deal_id", "person_id", "org_id", "content", "add_time", "update_time")
# Notes stored before the pinned flags (the bundled fixtures) are not pinned.
DEFAULTS: Record = {"active_flag": True, "pinned_to_deal_flag": False, "pinned_to_person_flag": False,
                    "pinned_to_organization_flag": False, "last_update_user_id": None}  # fmt: skip


class Notes(Collection):
    def __init__(self, account: Account, records: Iterable[Record]) -> None:
        super().__init__("Note", records, indexes=LINKS)
        self.account = account

    def create(self, body: dict[str, Any]) -> Record:
        account = self.account
        now = account.clock.stamp()
        fields = self._fields(body)
        if not any(fields.get(link) is not None for link in LINKS):
            raise Invalid("deal_id, person_id, org_id: a note is attached to a deal, a person or an organization; "
                          "give at least one of them.")  # fmt: skip
        note: Record = {
            "content": body["content"],
            "deal_id": None,
            "person_id": None,
            "org_id": None,
            "user_id": account.user_id,
            "add_time": now,
            "update_time": now,
            **DEFAULTS,
        }
        note.update(fields)
        return self.add(note)

    def modify(self, note_id: int, body: dict[str, Any]) -> Record:
        account = self.account
        note = self.get(note_id)
        changes = self._fields(body)
        if not any(changes.get(link, note.get(link)) is not None for link in LINKS):
            raise Invalid("deal_id, person_id, org_id: a note stays attached to a deal, a person or an organization.")
        changes.update(update_time=account.clock.stamp(), last_update_user_id=account.user_id)
        note = self.own(note)
        self.change(note, changes)
        return note

    def remove(self, note_id: int) -> Record:
        note = self.own(self.get(note_id))
        self.change(note, {"active_flag": False, "update_time": self.account.clock.stamp()})
        return note

    def _fields(self, body: dict[str, Any]) -> Record:
        account = self.account
        fields: Record = {}
        if "content" in body:
            if not isinstance(body["content"], str) or not body["content"].strip():
                raise Invalid("content: a note needs some text.")
            fields["content"] = body["content"]
        for link, collection in (("deal_id", account.deals), ("person_id", account.persons),
                                 ("org_id", account.organizations)):  # fmt: skip
            if link in body:
                if body[link] is not None:
                    collection.require(link, body[link])
                fields[link] = body[link]
        if body.get("user_id") is not None:
            fields["user_id"] = account.users.require("user_id", body["user_id"])["id"]
        if body.get("add_time") is not None:
            try:
                parse_datetime(body["add_time"])
            except ValueError:
                raise Invalid(
                    f"add_time {body['add_time']!r} is not a real date and time (YYYY-MM-DD HH:MM:SS)."
                ) from None
            fields["add_time"] = body["add_time"]
        for flag in PINS.values():
            if flag in body:
                fields[flag] = bool(int(body[flag]))
        return fields

    # --- reads --------------------------------------------------------------------------------------------------

    def query(
        self,
        *,
        user_id: int | None = None,
        links: dict[str, int | None],
        pinned: dict[str, int | None],
        start_date: str | None = None,
        end_date: str | None = None,
        sort: str | None = None,
    ) -> list[Record]:
        """Active notes by author, linked record, pinning and the day they were added, in id order or `sort`'s."""
        account = self.account
        if user_id is not None:
            account.users.require("user_id", user_id)
        named = {link: value for link, value in links.items() if value is not None}
        for link, value in named.items():
            {"deal_id": account.deals, "person_id": account.persons, "org_id": account.organizations}[link].require(
                link, value
            )
        first = next(iter(named.items()), None)
        notes = self.where(*first) if first else list(self.active())
        wanted_pins = {PINS[link]: bool(value) for link, value in pinned.items() if value is not None}
        found = [
            note
            for note in notes
            if (user_id is None or note["user_id"] == user_id)
            and all(note.get(link) == value for link, value in named.items())
            and all(bool(note.get(flag, False)) == value for flag, value in wanted_pins.items())
            and (start_date is None or note["add_time"][:10] >= start_date)
            and (end_date is None or note["add_time"][:10] <= end_date)
        ]
        return sort_notes(found, sort) if sort else found

    def render(self, note: Record) -> Record:
        """The note with the names of what it is attached to and of its author."""
        account = self.account
        out = dict(note)
        for key, value in DEFAULTS.items():
            out.setdefault(key, value)
        deal = account.deals.find_any(note["deal_id"]) if note.get("deal_id") is not None else None
        person = account.persons.find_any(note["person_id"]) if note.get("person_id") is not None else None
        org = account.organizations.find_any(note["org_id"]) if note.get("org_id") is not None else None
        user = account.users.find_any(note["user_id"]) or {}
        out["deal"] = {"name": deal["name"]} if deal else None
        out["person"] = {"name": person["name"]} if person else None
        out["organization"] = {"name": org["name"]} if org else None
        out["user"] = {
            "name": user.get("name"),
            "email": user.get("email"),
            "icon_url": None,
            "is_you": note["user_id"] == account.user_id,
        }
        return out


def sort_notes(notes: list[Record], sort: str) -> list[Record]:
    """`field ASC, field DESC, ...` over the note's own fields; the last key is applied first (stable sorts)."""
    keys: list[tuple[str, bool]] = []
    for part in sort.split(","):
        words = part.split()
        if not words or len(words) > 2 or words[0] not in SORTABLE:
            raise Invalid(f"sort: {part.strip()!r} is not a sort key; give `field ASC` or `field DESC` with a field "
                          f"of {', '.join(SORTABLE)}.")  # fmt: skip
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if direction not in ("ASC", "DESC"):
            raise Invalid(f"sort: {part.strip()!r}: the direction is ASC or DESC.")
        keys.append((words[0], direction == "DESC"))
    ordered = list(notes)
    for key, descending in reversed(keys):
        ordered.sort(key=_sorter(key), reverse=descending)
    return ordered


def _sorter(key: str) -> Callable[[Record], tuple[bool, Any]]:
    """None before every value; values of one field share a type, so only they are compared."""

    def value(note: Record) -> tuple[bool, Any]:
        found = note.get(key)
        return (found is not None, 0 if found is None else found)

    return value
