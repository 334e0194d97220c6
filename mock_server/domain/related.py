"""`related_objects`: the users, persons, organizations, deals, stages and pipelines a response refers to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mock_server.domain.collection import Record

if TYPE_CHECKING:
    from mock_server.domain.account import Account

USER_KEYS = ("id", "name", "email", "active_flag", "created_by_user_id", "add_time", "update_time",
             "last_updated_by_user_id")  # fmt: skip
STAGE_KEYS = ("id", "name", "order_nbr", "pipeline_id", "active_flag", "add_time", "update_time")
PIPELINE_KEYS = ("id", "name", "order_nbr", "active_flag", "deal_probability", "add_time", "update_time")
MISSING: Any = object()
DEAL_KEYS = ("id", "name", "status", "value", "currency", "stage_id", "pipeline_id")


def pick(record: Record, keys: tuple[str, ...]) -> Record:
    return {key: record.get(key) for key in keys}


def user_summary(user: Record) -> Record:
    return pick(user, USER_KEYS)


def person_summary(account: Account, person: Record) -> Record:
    return {
        "id": person["id"],
        "name": person["name"],
        "email": [dict(entry) for entry in person["email"]],
        "phone": [dict(entry) for entry in person["phone"]],
        "owner_id": person["owner_id"],
    }


def organization_summary(account: Account, organization: Record) -> Record:
    return {
        "id": organization["id"],
        "name": organization["name"],
        "address": organization["address"],
        "people_count": len(account.persons.where("org_id", organization["id"])),
        "owner_id": organization["owner_id"],
    }


class Related:
    """Collects ids while records are rendered, then renders each referenced record once."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.ids: dict[str, dict[int, None]] = {
            "user": {},
            "person": {},
            "organization": {},
            "deal": {},
            "stage": {},
            "pipeline": {},
        }

    def add(self, kind: str, record_id: int | None) -> None:
        if record_id is not None:
            self.ids[kind][record_id] = None

    def build(self) -> dict[str, dict[str, Any]]:
        account = self.account
        sources: dict[str, Any] = {
            "user": (account.users, user_summary),
            "person": (account.persons, lambda record: person_summary(account, record)),
            "organization": (account.organizations, lambda record: organization_summary(account, record)),
            "deal": (account.deals, lambda record: pick(record, DEAL_KEYS)),
            "stage": (account.stages, lambda record: pick(record, STAGE_KEYS)),
            "pipeline": (account.pipelines, lambda record: pick(record, PIPELINE_KEYS)),
        }
        related: dict[str, dict[str, Any]] = {}
        for kind, ids in self.ids.items():
            if not ids:
                continue
            collection, render = sources[kind]
            # Summaries are kept per record until the account changes.
            kept: dict[int, Record | None] = account.kept(f"related_{kind}", dict)
            rendered = {}
            for record_id in ids:
                summary = kept.get(record_id, MISSING)
                if summary is MISSING:
                    record = collection.find_any(record_id)
                    summary = kept[record_id] = None if record is None else render(record)
                if summary is not None:
                    rendered[str(record_id)] = summary
            if rendered:
                related[kind] = rendered
        return related
