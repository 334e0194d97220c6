"""`GET /recents`: every record of some kinds added, changed or deleted since a moment, in the order of change."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from mock_server.domain.collection import Collection, Page, Record
from mock_server.domain.users import render_user

if TYPE_CHECKING:
    from mock_server.domain.account import Account

# The kinds as the service names them, in the order a tie (one second, one id) is listed in.
KINDS = ("deal", "activity", "activityType", "person", "organization", "product", "pipeline", "stage", "note",
         "filter", "user")  # fmt: skip


def _sources(account: Account) -> dict[str, tuple[Collection, Callable[[Record], Record]]]:
    """Each kind's collection and how one of its records is shown: as its own list or details show it."""
    return {
        "deal": (account.deals, account.deals.render),
        "activity": (account.activities, account.activities.render),
        "activityType": (account.activity_types, account.activity_types.render),
        "person": (account.persons, account.persons.render),
        "organization": (account.organizations, account.organizations.render),
        "product": (account.products, account.products.render),
        "pipeline": (account.pipelines, account.pipelines.render),
        "stage": (account.stages, account.stages.render),
        "note": (account.notes, account.notes.render),
        "filter": (account.filters, lambda record: account.filters.render(record, details=True)),
        "user": (account.users, lambda record: render_user(account, record)),
    }


def changed_at(record: Record) -> str:
    """When the record last changed: its `update_time`, else when it was added."""
    return str(record.get("update_time") or record.get("add_time") or "")


def recents(
    account: Account, since: str, kinds: Iterable[str] | None, start: int, limit: int
) -> tuple[Page, str | None]:
    """The page of changes at or after `since` (a `YYYY-MM-DD HH:MM:SS` stamp) oldest first, by change time, then
    id, then kind; and the change time of the page's last item. Deleted records are listed too, as deleted."""
    asked = set(kinds or KINDS)
    sources = _sources(account)
    found: list[tuple[str, int, int, str, Record]] = []
    for order, kind in enumerate(KINDS):
        if kind not in asked:
            continue
        collection = sources[kind][0]
        for record in collection.all():
            stamp = changed_at(record)
            if stamp >= since:
                found.append((stamp, record["id"], order, kind, record))
    found.sort(key=lambda entry: entry[:3])
    window = found[start : start + limit]
    items = [{"item": kind, "id": record["id"], "data": sources[kind][1](record)} for _, _, _, kind, record in window]
    last = window[-1][0] if window else None
    return Page(items, start, limit, start + limit < len(found)), last
