"""Webhook events from the API's writes: one generic place maps a write operation to the changes it made.

A successful write on /v1 (POST, PUT, PATCH, DELETE) is an event of one kind of object (the path's first segment,
looked up in `EVENT_OBJECTS`), one action (from the method; a `/merge` path merges) and one or more records (the
path's `{id}`, the answer's `data.id` for an add, the `ids` of a bulk delete). The record before the change and
after it are read through the operation a client would read them with (`GET /segment/{id}`, or the list
`GET /segment` where the API has no single read), inside the write's own turn on the account, so a payload is
exactly what a read answers at that moment. A write under a record's path (a deal's products) changes that record:
it is an update of it, as the real service reports it. Nothing is read when no subscription wants the event.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connexion.context import scope as request_scope

from mock_server.domain.account import Account
from mock_server.domain.collection import Record
from mock_server.errors import FinteskError
from mock_server.http.tenant import current_account

logger = logging.getLogger("fintesk_mock")

# The object a path's first segment holds, as webhooks name it: a new resource's writes send events once its
# segment is here (one line each). Segments not listed (fields, filters, webhooks) send none, as on the real service.
EVENT_OBJECTS = {
    "activities": "activity",
    "activityTypes": "activityType",
    "deals": "deal",
    "notes": "note",
    "organizations": "organization",
    "persons": "person",
    "pipelines": "pipeline",
    "products": "product",
    "stages": "stage",
    "users": "user",
}
WRITES = ("post", "put", "patch", "delete")
Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Plan:
    """How one write operation's events are made."""

    object: str
    action: str  # in version 1's words: added, updated, deleted, merged
    read: str  # the handler that reads the records (snake_case operationId)
    listed: bool  # `read` answers the whole list (no single read exists)
    by_path: bool  # the record's id is the path's `{id}` (else the answer's `data.id`, or the bulk `ids`)


@dataclass(frozen=True)
class Change:
    """One record's change, as reads answered it before (`previous`) and after (`current`)."""

    object: str
    action: str
    record_id: int
    previous: Record | None
    current: Record | None
    user_id: int
    company_id: int
    time: datetime
    bulk: bool


def plans(spec: dict[str, Any], snake_case: Callable[[str], str]) -> dict[str, Plan]:
    """The plan of every write operation of `spec` whose records send events, by operationId."""
    paths = spec["paths"]
    found: dict[str, Plan] = {}
    for path, item in paths.items():
        segments = path.strip("/").split("/")
        event_object = EVENT_OBJECTS.get(segments[0])
        if event_object is None:
            continue
        single, whole = paths.get(f"/{segments[0]}/{{id}}", {}).get("get"), paths.get(f"/{segments[0]}", {}).get("get")
        reader = single or whole
        if reader is None:
            raise ValueError(f"{path}: its records have no read (GET /{segments[0]}/{{id}} or GET /{segments[0]})")
        for method in WRITES:
            operation = item.get(method)
            action = _action(method, segments)
            if operation is None or action is None:
                continue
            found[operation["operationId"]] = Plan(
                event_object, action, snake_case(reader["operationId"]), single is None, len(segments) > 1
            )
    return found


def _action(method: str, segments: list[str]) -> str | None:
    if len(segments) == 1:
        return {"post": "added", "delete": "deleted"}.get(method)
    if segments[1] != "{id}":
        return None  # a write beside the records (none yet): no record changes
    if len(segments) == 2:
        return "deleted" if method == "delete" else "updated"
    return "merged" if segments[-1] == "merge" else "updated"


class Events:
    """Wraps write handlers so that each successful write hands its changes to `sink(token, account, changes)`."""

    def __init__(
        self,
        plans: dict[str, Plan],
        handlers: dict[str, Handler],
        sink: Callable[[str, Account, list[Change]], None],
        wanted: Callable[[str, Account, str, str], bool],
        note_server: Callable[[Any], None] = lambda _server: None,
    ) -> None:
        self.plans = plans
        self.handlers = handlers
        self.sink = sink
        self.wanted = wanted
        self.note_server = note_server

    def wrap(self, operation_id: str, handler: Handler) -> Handler:
        plan = self.plans.get(operation_id)
        if plan is None:
            return handler
        read = self.handlers[plan.read]

        @functools.wraps(handler)
        async def emitting(**arguments: Any) -> Any:
            account = current_account()
            token = _token()
            if token is None or not self.wanted(token, account, plan.object, plan.action):
                return await handler(**arguments)
            ids = _ids(plan, arguments)
            before = (
                {} if plan.action == "added" else {record_id: await _read(read, plan, record_id) for record_id in ids}
            )
            response = await handler(**arguments)
            if not 200 <= response.status_code < 300:
                return response
            if plan.action in ("added", "merged"):
                answered = json.loads(response.body)["data"]["id"]
                ids = [answered]  # the added record, or the one the merge kept (read before the write as named)
            changes = []
            for record_id in ids:
                current = None if plan.action == "deleted" else await _read(read, plan, record_id)
                changes.append(_change(account, plan, record_id, before.get(record_id), current, len(ids) > 1))
            if plan.action == "merged":  # the record merged into another is gone
                gone = [record_id for record_id in before if record_id not in ids]
                changes += [
                    _change(account, plan, record_id, before[record_id], None, False, "deleted") for record_id in gone
                ]
            changes = [change for change in changes if change.previous is not None or change.current is not None]
            if changes:
                self.note_server(request_scope.get("server"))
                self.sink(token, account, changes)
            return response

        return emitting


def _change(
    account: Account, plan: Plan, record_id: int, previous: Record | None, current: Record | None, bulk: bool,
    action: str | None = None,
) -> Change:  # fmt: skip
    return Change(plan.object, action or plan.action, record_id, previous, current, account.user_id,
                  account.company["id"], account.clock.now(), bulk)  # fmt: skip


def _token() -> str | None:
    try:
        token = request_scope.get("state", {}).get("fintesk_token")
    except (LookupError, RuntimeError):
        return None
    return token if isinstance(token, str) else None


def _ids(plan: Plan, arguments: dict[str, Any]) -> list[int]:
    """The records the write names: its path's id (and for a merge the other record), or a bulk delete's ids."""
    if plan.by_path:
        other = (arguments.get("body") or {}).get("merge_with_id") if plan.action == "merged" else None
        return [arguments["id"], *([other] if isinstance(other, int) and other != arguments["id"] else [])]
    return list(dict.fromkeys(arguments.get("ids") or ()))


async def _read(read: Handler, plan: Plan, record_id: int) -> Record | None:
    """The record as a client's read answers it now, or None where the read finds none."""
    try:
        response = await (read() if plan.listed else read(id=record_id))
    except FinteskError:
        return None
    data = json.loads(response.body).get("data")
    if plan.listed:
        return next((record for record in data or () if record.get("id") == record_id), None)
    return data if isinstance(data, dict) else None
