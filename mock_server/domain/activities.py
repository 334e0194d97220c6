"""Activities and activity types: defaults, links to deals/persons/organizations, done-ness and listing."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from mock_server.domain.collection import Collection, Kept, Record
from mock_server.domain.related import Related
from mock_server.errors import MissingReference

if TYPE_CHECKING:
    from mock_server.domain.account import Account

WRITABLE = ("subject", "type", "due_date", "due_time", "duration", "user_id", "deal_id", "person_id", "org_id",
            "done", "note", "participants")  # fmt: skip
NO_DATE = "9999-12-31"


def _due_key(activity: Record) -> tuple[str, str, int]:
    return (activity["due_date"] or NO_DATE, activity["due_time"] or "", activity["id"])


def _in_due_order(activities: Iterable[Record]) -> list[Record]:
    """`activities` in list order (due date, time, id), sorted a day at a time: one sort of a million tuple keys
    is a single call of over a second that no other request can interrupt, a day's few hundred are not."""
    by_day: dict[str, list[Record]] = {}
    for activity in activities:
        by_day.setdefault(activity["due_date"] or NO_DATE, []).append(activity)
    ordered: list[Record] = []
    for day in sorted(by_day):
        ordered += sorted(by_day[day], key=_due_key)
    return ordered


class Activities(Collection):
    def __init__(self, account: Account, records: Iterable[Record]) -> None:
        super().__init__("Activity", records, indexes=("deal_id", "person_id", "org_id"))
        self.account = account
        for activity in self.all():
            activity.setdefault("last_updated_by_user_id", None)

    def create(self, body: dict[str, Any]) -> Record:
        account = self.account
        now = account.clock.stamp()
        fields = self._fields(body)
        activity: Record = {
            "subject": None,
            "type": account.activity_types.default_key(),
            "due_date": None,
            "due_time": None,
            "duration": None,
            "user_id": account.user_id,
            "created_by_user_id": account.user_id,
            "last_updated_by_user_id": account.user_id,
            "deal_id": None,
            "person_id": None,
            "org_id": None,
            "done": 0,
            "marked_as_done_time": None,
            "note": None,
            "participants": None,
            "active_flag": True,
            "add_time": now,
            "update_time": now,
        }
        if fields.get("deal_id") is not None:
            # An activity on a deal is also on the deal's person and organization, unless told otherwise.
            deal = account.deals.get_any_status(fields["deal_id"])
            activity["person_id"] = deal["person_id"]
            activity["org_id"] = deal["org_id"]
        activity.update(fields)
        if not activity["subject"]:
            activity["subject"] = account.activity_types.by_key(activity["type"])["name"]
        if activity["done"]:
            activity["marked_as_done_time"] = now
        return self.add(activity)

    def modify(self, activity_id: int, body: dict[str, Any]) -> Record:
        activity = self.own(self.get(activity_id))
        now = self.account.clock.stamp()
        changes = self._fields(body)
        if "done" in changes and changes["done"] != activity["done"]:
            changes["marked_as_done_time"] = now if changes["done"] else None
        changes.update(update_time=now, last_updated_by_user_id=self.account.user_id)
        self.change(activity, changes)
        return activity

    def remove(self, activity_ids: list[int]) -> list[int]:
        activities = [self.get(activity_id) for activity_id in activity_ids]
        now = self.account.clock.stamp()
        for activity in map(self.own, activities):
            self.change(activity, {"active_flag": False, "update_time": now})
        return [activity["id"] for activity in activities]

    def _fields(self, body: dict[str, Any]) -> Record:
        """The writable fields of a body, their references checked."""
        account = self.account
        fields = {key: body[key] for key in WRITABLE if key in body}
        if "user_id" not in fields and body.get("assigned_to_user_id") is not None:
            fields["user_id"] = body["assigned_to_user_id"]
        if "done" in fields:
            fields["done"] = int(fields["done"])
        for field, collection in (("user_id", account.users), ("person_id", account.persons),
                                  ("org_id", account.organizations)):  # fmt: skip
            if fields.get(field) is not None:
                collection.require(field, fields[field])
        if fields.get("deal_id") is not None and account.deals.find(fields["deal_id"]) is None:
            account.deals.require("deal_id", fields["deal_id"])
        if fields.get("type") is not None:
            account.activity_types.require_key(fields["type"])
        elif "type" in fields:
            del fields["type"]
        if fields.get("participants") is not None:
            fields["participants"] = [self._participant(entry) for entry in fields["participants"]]
        return fields

    def _participant(self, entry: dict[str, Any]) -> Record:
        participant = {"person_id": entry.get("person_id"), "primary_flag": bool(entry.get("primary_flag", False))}
        if isinstance(participant["person_id"], int):
            self.account.persons.require("participants.person_id", participant["person_id"])
        return participant

    def query(
        self,
        *,
        user_id: int | None,
        types: list[str] | None = None,
        start_date: str | None = None,
        end_date: str | None = None,
        done: int | None = None,
    ) -> Iterator[Record]:
        """The activities of a list, lazily in due order: a page draws only as many as it shows."""
        if user_id:
            self.account.users.require("user_id", user_id)
        acting = self.account.user_id if user_id is None else user_id
        wanted_types = set(types) if types else None
        return (
            activity
            for activity in self.by_due_date()
            if (acting == 0 or activity["user_id"] == acting)
            and (wanted_types is None or activity["type"] in wanted_types)
            and (done is None or activity["done"] == done)
            and (start_date is None or (activity["due_date"] is not None and activity["due_date"] >= start_date))
            and (end_date is None or (activity["due_date"] is not None and activity["due_date"] <= end_date))
        )

    def by_due_date(self) -> Iterator[Record]:
        """Every active activity in list order, lazily; the order is kept until the account changes."""
        return iter(self.account.kept("activities_by_due", lambda: _in_due_order(self.active())))

    def of_deal(self, deal_id: int, *, done: int | None = None, exclude: Iterable[int] = ()) -> list[Record]:
        return self.linked("deal_id", deal_id, done=done, exclude=exclude)

    def linked(
        self, link: str, record_id: int, *, done: int | None = None, exclude: Iterable[int] = ()
    ) -> list[Record]:
        """The active activities of one deal, person or organization (`link` names which), in due order."""
        excluded = set(exclude)
        activities = self.where(link, record_id)
        return sorted(
            (a for a in activities if (done is None or a["done"] == done) and a["id"] not in excluded),
            key=_due_key,
        )

    def more_scheduled_in_context(self, activity: Record) -> bool:
        """Whether other undone activities share this one's deal, or else its person or organization."""
        for field in ("deal_id", "person_id", "org_id"):
            if activity[field] is not None:
                return any(
                    other["id"] != activity["id"] and not other["done"] for other in self.where(field, activity[field])
                )
        return False

    def deal_activity_fields(self, deal_id: int) -> Record:
        """A deal's `next_activity_*` (earliest undone) and `last_activity_*` (latest done)."""
        activities = self.where("deal_id", deal_id)
        upcoming = min((a for a in activities if not a["done"]), key=_due_key, default=None)
        last = max((a for a in activities if a["done"]), key=_due_key, default=None)
        return {
            "next_activity_id": upcoming["id"] if upcoming else None,
            "next_activity_date": upcoming["due_date"] if upcoming else None,
            "next_activity_time": upcoming["due_time"] if upcoming else None,
            "next_activity_subject": upcoming["subject"] if upcoming else None,
            "next_activity_type": upcoming["type"] if upcoming else None,
            "next_activity_duration": upcoming["duration"] if upcoming else None,
            "next_activity_note": upcoming["note"] if upcoming else None,
            "last_activity_id": last["id"] if last else None,
            "last_activity_date": last["due_date"] if last else None,
        }

    def next_and_last(self, deal_id: int) -> tuple[Record | None, Record | None]:
        activities = self.where("deal_id", deal_id)
        upcoming = min((a for a in activities if not a["done"]), key=_due_key, default=None)
        last = max((a for a in activities if a["done"]), key=_due_key, default=None)
        return upcoming, last

    def render(self, activity: Record, related: Related | None = None) -> Record:
        """The activity as lists and details show it; callers get a copy they may change."""
        out = dict(self.render_kept(activity, related).record)
        if out["participants"] is not None:
            out["participants"] = [dict(entry) for entry in out["participants"]]
        return out

    def render_kept(self, activity: Record, related: Related | None = None) -> Kept:
        """The kept render of the activity (shared: never to be changed), made again once the account changes."""
        return self.kept_renderer(related)(activity)

    def kept_renderer(self, related: Related | None = None) -> Callable[[Record], Kept]:
        """`render_kept` for the activities of one answer, which sees one state: the kept renders are looked up
        once, not once per activity."""
        account = self.account
        kept: dict[int, Kept] = account.kept("activity_renders", dict)

        def render(activity: Record) -> Kept:
            entry = kept.get(activity["id"])
            if entry is None:
                entry = kept[activity["id"]] = Kept(self._render(activity))
            if related is not None:
                related.add("user", activity["user_id"])
                related.add("person", activity["person_id"])
                related.add("organization", activity["org_id"])
                related.add("deal", activity["deal_id"])
            return entry

        return render

    def _render(self, activity: Record) -> Record:
        account = self.account
        out = dict(activity)
        if activity["participants"] is not None:
            out["participants"] = [dict(entry) for entry in activity["participants"]]
        deal = account.deals.find_any(activity["deal_id"]) if activity["deal_id"] is not None else None
        person = account.persons.find_any(activity["person_id"]) if activity["person_id"] is not None else None
        org = account.organizations.find_any(activity["org_id"]) if activity["org_id"] is not None else None
        owner = account.users.find_any(activity["user_id"]) or {}
        out["deal_name"] = deal["name"] if deal else None
        out["person_name"] = person["name"] if person else None
        out["org_name"] = org["name"] if org else None
        out["owner_name"] = owner.get("name")
        out["assigned_to_user_id"] = activity["user_id"]
        out["company_id"] = account.company["id"]
        return out


def key_string(name: str) -> str:
    """The type's key derived from its name: lowercase, runs of other characters become `_`. The name is NFC-normalised
    first, so the composed and the decomposed "Vidéo" (e + combining accent) read alike and get the same key."""
    key = re.sub(r"[^0-9a-z]+", "_", unicodedata.normalize("NFC", name).casefold()).strip("_")
    return key or "custom"


class ActivityTypes(Collection):
    def __init__(self, account: Account, records: Iterable[Record]) -> None:
        super().__init__("Activity type", records)
        self.account = account

    def ordered(self) -> list[Record]:
        return sorted(self.active(), key=lambda record: (record["order_nbr"], record["id"]))

    def default_key(self) -> str:
        return str(self.ordered()[0]["key_string"]) if self.ordered() else "call"

    def by_key(self, key: str) -> Record:
        return next((record for record in self.active() if record["key_string"] == key), {"name": key})

    def require_key(self, key: str) -> Record:
        record = next((record for record in self.active() if record["key_string"] == key), None)
        if record is None:
            raise MissingReference("type", key)
        return record

    def create(self, body: dict[str, Any]) -> Record:
        now = self.account.clock.stamp()
        base = key_string(body["name"])
        taken = {record["key_string"] for record in self.all()}
        key, suffix = base, 1
        while key in taken:
            suffix += 1
            key = f"{base}_{suffix}"
        order = body.get("order_nbr")
        if order is None:
            order = max((record["order_nbr"] for record in self.all()), default=0) + 1
        return self.add(
            {
                "name": body["name"],
                "key_string": key,
                "icon_key": body["icon_key"],
                "color": body.get("color"),
                "order_nbr": order,
                "is_custom_flag": True,
                "active_flag": True,
                "add_time": now,
                "update_time": now,
                "created_by_user_id": self.account.user_id,
                "last_updated_by_user_id": self.account.user_id,
            }
        )

    def modify(self, type_id: int, body: dict[str, Any]) -> Record:
        record = self.own(self.get(type_id))
        changes: Record = {key: body[key] for key in ("name", "icon_key", "color", "order_nbr") if key in body}
        changes.update(update_time=self.account.clock.stamp(), last_updated_by_user_id=self.account.user_id)
        self.change(record, changes)
        return record

    def remove(self, type_ids: list[int]) -> list[Record]:
        records = [self.own(record) for record in [self.get(type_id) for type_id in type_ids]]
        now = self.account.clock.stamp()
        for record in records:
            self.change(record, {"active_flag": False, "update_time": now})
        return records

    def render(self, record: Record) -> Record:
        return dict(record)
