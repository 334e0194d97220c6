"""The bodies webhooks send for one change: version 1 (`current` / `previous`) and version 2 (`data`, `previous`
holding only what changed, custom fields apart)."""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

from mock_server.control.events import Change
from mock_server.domain.collection import Record

# Custom fields are keyed by 40 hex digits; version 2 moves them under `custom_fields`.
CUSTOM_KEY = re.compile(r"^[0-9a-f]{40}(_[a-z_]+)?$")
V2_ACTIONS = {"added": "create", "updated": "change", "deleted": "delete", "merged": "change"}
HOST = "fintesk-mock.localhost"


def payload(change: Change, webhook: Record, attempt: int, event_id: str, correlation_id: str) -> dict[str, Any]:
    """What `webhook` is sent for `change` on its `attempt` (1 for the first, up to 4)."""
    if webhook["version"] == "1.0":
        return version_1(change, webhook, attempt)
    return version_2(change, webhook, attempt, event_id, correlation_id)


def version_1(change: Change, webhook: Record, attempt: int) -> dict[str, Any]:
    seconds = int(change.time.replace(tzinfo=UTC).timestamp())
    matches: dict[str, list[int]] = {"current": [], "previous": []}
    return {
        "v": 1,
        "matches_filters": matches,
        "meta": {
            "v": 1,
            "action": change.action,
            "object": change.object,
            "id": change.record_id,
            "company_id": change.company_id,
            "user_id": change.user_id,
            "host": HOST,
            "timestamp": seconds,
            "timestamp_micro": seconds * 1_000_000,
            "permitted_user_ids": [webhook["user_id"]],
            "trans_pending": False,
            "is_bulk_update": change.bulk,
            "change_source": "api",
            "matches_filters": matches,
            "webhook_id": str(webhook["id"]),
            "webhook_owner_id": webhook["owner_id"],
        },
        "current": change.current,
        "previous": change.previous,
        "event": f"{change.action}.{change.object}",
        "retry": attempt - 1,
    }


def version_2(change: Change, webhook: Record, attempt: int, event_id: str, correlation_id: str) -> dict[str, Any]:
    action = V2_ACTIONS[change.action]
    if action == "change":
        previous = changed_fields(change.previous, change.current)
    else:
        previous = None if change.previous is None else apart(change.previous)
    return {
        "data": None if change.current is None else apart(change.current),
        "previous": previous,
        "meta": {
            "action": action,
            "entity": change.object,
            "entity_id": str(change.record_id),
            "id": event_id,
            "attempt": attempt,
            "timestamp": change.time.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "webhook_id": str(webhook["id"]),
            "webhook_owner_id": str(webhook["owner_id"]),
            "version": "2.0",
            "company_id": str(change.company_id),
            "user_id": str(change.user_id),
            "correlation_id": correlation_id,
            "type": "general",
            "change_source": "api",
            "is_bulk_edit": change.bulk,
            "host": HOST,
            "permitted_user_ids": [str(webhook["user_id"])],
        },
    }


def apart(record: Record) -> Record:
    """`record` with its custom fields moved under `custom_fields`."""
    shaped: Record = {key: value for key, value in record.items() if not CUSTOM_KEY.match(key)}
    shaped["custom_fields"] = {key: value for key, value in record.items() if CUSTOM_KEY.match(key)}
    return shaped


def changed_fields(before: Record | None, after: Record | None) -> Record | None:
    """The fields that differ, as they were before (custom fields under `custom_fields`)."""
    if before is None:
        return None
    after = after or {}
    old, new = apart(before), apart(after)
    previous = {key: value for key, value in old.items() if key != "custom_fields" and new.get(key) != value}
    custom = {key: value for key, value in old["custom_fields"].items() if new["custom_fields"].get(key) != value}
    if custom:
        previous["custom_fields"] = custom
    return previous
