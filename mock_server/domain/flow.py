"""A deal's flow: its field changes, activities and notes as one history, newest first."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import TYPE_CHECKING

from mock_server.domain.collection import Record
from mock_server.domain.related import Related

if TYPE_CHECKING:
    from mock_server.domain.account import Account

# A custom field's own key, or the key of its companion value (`<key>_currency`, `<key>_until`).
CUSTOM_FIELD_KEY = re.compile(r"^[0-9a-f]{40}(_currency|_until)?$")


def deal_flow(
    account: Account, deal_id: int, *, all_changes: bool = False, items: Collection[str] | None = None
) -> tuple[list[Record], Related]:
    """The deal's updates as `{object, timestamp, source}` entries, newest first, and the related objects every
    page refers to (the deal, its person and organization). Render a page's entries with `render_update`."""
    deal = account.deals.get(deal_id)
    entries: list[Record] = [
        {"object": "dealChange", "timestamp": change["log_time"], "source": change}
        for change in account.changes_of(deal_id)
        if all_changes or not CUSTOM_FIELD_KEY.match(change["field_key"])
    ]
    entries += [
        {"object": "activity", "timestamp": activity["add_time"], "source": activity}
        for activity in account.activities.where("deal_id", deal_id)
    ]
    entries += [
        {"object": "note", "timestamp": note["add_time"], "source": note}
        for note in account.notes.where("deal_id", deal_id)
    ]
    if items:
        entries = [entry for entry in entries if entry["object"] in items]
    # Changes made in one second keep their logged order reversed too: the last change applied shows first.
    ordered = sorted(enumerate(entries), key=lambda pair: (pair[1]["timestamp"], pair[0]), reverse=True)
    related = account.related()
    related.add("deal", deal["id"])
    related.add("person", deal["person_id"])
    related.add("organization", deal["org_id"])
    return [entry for _, entry in ordered], related


def render_update(account: Account, entry: Record, related: Related) -> Record:
    """One flow item: a change as logged, an activity as activities render, a note as stored."""
    source = entry["source"]
    if entry["object"] == "activity":
        data = account.activities.render(source, related)
    else:
        data = dict(source)
        related.add("user", source["user_id"])
    return {"object": entry["object"], "timestamp": entry["timestamp"], "data": data}
