"""Webhook subscriptions of an account: who wants which events, sent where, in which payload version."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mock_server.domain.collection import Record
from mock_server.errors import Forbidden, Invalid, MissingReference, NotFound

if TYPE_CHECKING:
    from mock_server.domain.account import Account

# The real service allows this many subscriptions per user.
MAX_PER_USER = 40
VERSIONS = ("1.0", "2.0")
DEFAULT_VERSION = "2.0"
# Event actions as version 1 names them; version 2's names (create, change, delete) stand for the same actions.
ACTIONS = ("added", "updated", "merged", "deleted")
V2_ACTIONS = {"create": "added", "change": "updated", "delete": "deleted"}
OBJECTS = ("activity", "activityType", "deal", "note", "organization", "person", "pipeline", "product", "stage", "user")


def canonical_action(action: str) -> str:
    """An event action in version 1's words (`change` is `updated`); `*` stays `*`."""
    return V2_ACTIONS.get(action, action)


def check_url(url: str) -> None:
    """A subscription URL is an absolute http(s) URL with a host (and a port that exists, if it names one)."""
    problem = f"subscription_url: {url[:200]!r} is not an http or https URL with a host."
    try:
        parts = urlsplit(url)
    except ValueError:
        raise Invalid(problem) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(problem)
    try:
        parts.port  # noqa: B018 - read for its check: a port past 65535 raises
    except ValueError:
        raise Invalid(f"subscription_url: {url[:200]!r} names a port outside 0 to 65535.") from None


class Webhooks:
    """The account's subscriptions by id, in the order they were added; ids are never handed out twice."""

    def __init__(self, records: list[Record] | None = None, last_id: int = 0) -> None:
        self.records: dict[int, Record] = {record["id"]: record for record in records or ()}
        self.last_id = max([last_id, *self.records])
        # Counts changes, so that kept answers and the durable store can tell the subscriptions changed.
        self.version = 0

    def fork(self) -> Webhooks:
        return Webhooks(copy.deepcopy(list(self.records.values())), self.last_id)

    def all(self) -> list[Record]:
        return [copy.deepcopy(record) for record in self.records.values()]

    def add(self, account: Account, body: dict[str, Any]) -> Record:
        url = body["subscription_url"]
        check_url(url)
        user_id = body.get("user_id")
        if user_id is None:
            user_id = account.user_id
        elif account.users.find(user_id) is None:
            raise MissingReference("user_id", user_id)
        if sum(record["user_id"] == user_id for record in self.records.values()) >= MAX_PER_USER:
            raise Forbidden(
                f"user_id: user {user_id} has {MAX_PER_USER} webhooks already, the most a user can have.",
                extra={"code": "webhooks_limit"},
            )
        self.last_id += 1
        record: Record = {
            "id": self.last_id,
            "company_id": account.company["id"],
            "owner_id": account.user_id,
            "user_id": user_id,
            "event_action": body["event_action"],
            "event_object": body["event_object"],
            "subscription_url": url,
            "version": body.get("version", DEFAULT_VERSION),
            "name": body.get("name"),
            "is_active": 1,
            "add_time": account.clock.stamp(),
            "remove_time": None,
            "type": "general",
            "http_auth_user": body.get("http_auth_user"),
            "http_auth_password": body.get("http_auth_password"),
            "additional_data": {},
            "remove_reason": None,
            "last_delivery_time": None,
            "last_http_status": None,
            "admin_id": account.user_id,
        }
        self.records[record["id"]] = record
        self.version += 1
        return copy.deepcopy(record)

    def remove(self, webhook_id: int) -> Record:
        record = self.records.pop(webhook_id, None)
        if record is None:
            raise NotFound(f"Webhook {webhook_id} not found.")
        self.version += 1
        return record

    def matching(self, event_object: str, action: str) -> list[Record]:
        """The subscriptions an event of `event_object` and `action` (version 1's words) goes to."""
        return [
            record
            for record in self.records.values()
            if record["event_object"] in ("*", event_object)
            and canonical_action(record["event_action"]) in ("*", action)
        ]

    def export(self) -> dict[str, Any]:
        return {"last_id": self.last_id, "subscriptions": self.all()}


def restore_webhooks(saved: Any, user_ids: set[int]) -> Webhooks:
    """Subscriptions as `export` wrote them, checked (an Invalid names the field)."""
    if not isinstance(saved, dict) or set(saved) != {"last_id", "subscriptions"}:
        raise Invalid("field 'webhooks': expected an object of last_id and subscriptions, as an export holds it.")
    last_id, records = saved["last_id"], saved["subscriptions"]
    if not isinstance(last_id, int) or isinstance(last_id, bool) or not isinstance(records, list):
        raise Invalid("field 'webhooks': last_id is an integer and subscriptions a list.")
    for position, record in enumerate(records, 1):
        where = f"webhooks: subscription #{position}"
        if not isinstance(record, dict) or not isinstance(record.get("id"), int):
            raise Invalid(f"{where}: not a subscription with an integer id.")
        for field in ("subscription_url", "event_action", "event_object", "version"):
            if not isinstance(record.get(field), str):
                raise Invalid(f"{where}: field '{field}' is missing or not a string.")
        check_url(record["subscription_url"])
        if canonical_action(record["event_action"]) not in (*ACTIONS, "*"):
            raise Invalid(f"{where}: field 'event_action': {record['event_action']!r} is not an event action.")
        if record["event_object"] not in (*OBJECTS, "*"):
            raise Invalid(f"{where}: field 'event_object': {record['event_object']!r} is not an event object.")
        if record["version"] not in VERSIONS:
            raise Invalid(f"{where}: field 'version': give one of {', '.join(VERSIONS)}.")
        if record.get("user_id") not in user_ids:
            raise Invalid(f"{where}: field 'user_id': {record.get('user_id')!r} is not a user of the account.")
    if len({record["id"] for record in records}) != len(records):
        raise Invalid("webhooks: two subscriptions share an id.")
    return Webhooks(records, last_id)
