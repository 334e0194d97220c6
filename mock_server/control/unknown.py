"""Body fields an operation does not define: ignored, as the real service ignores them, but never silently.

A client that sends a field under another name (a deal's `title` for its `name`) gets a 2xx from the real service
and its value is lost; locally the same call passes unnoticed. So the answer carries `x-fintesk-mock-warning`
naming each such field, the journal entry lists them, and in strict mode (`serve --strict`, or a request's
`x-fintesk-mock-strict: true`) the request is refused with a 400 naming the field. The custom fields of the
account (their 40-hex keys and companions such as `<key>_currency`) are defined fields of deals and activities.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server.control.journal import UNKNOWN_FIELDS
from mock_server.domain.fields import COMPANIONS
from mock_server.errors import Invalid
from mock_server.http.tenant import current_account
from mock_server.http.validation import UNDEFINED_FIELDS

WARNING_HEADER = b"x-fintesk-mock-warning"
STRICT_HEADER = b"x-fintesk-mock-strict"
# The most fields named, and the most characters of each: names are the client's.
MAX_NAMED = 20
MAX_NAME = 80
TRUE = frozenset({b"1", b"true", b"yes", b"on"})


def custom_keys() -> frozenset[str]:
    """The keys under which the current account takes custom field values (none outside the API)."""
    try:
        account = current_account()
    except LookupError:
        return frozenset()
    keys = set()
    for fields in (account.deal_fields, account.activity_fields):
        for field in fields.custom():
            keys.add(field["key"])
            suffix = COMPANIONS.get(field["field_type"])
            if suffix:
                keys.add(field["key"] + suffix)
    return frozenset(keys)


def shown(name: str) -> str:
    """A field name as a header or message may show it: quoted, escaped to ASCII, cut to size."""
    return "'" + json.dumps(name if len(name) <= MAX_NAME else name[:MAX_NAME] + "...")[1:-1] + "'"


def warning(fields: list[str]) -> str:
    names = ", ".join(shown(name) for name in fields[:MAX_NAMED])
    more = f" (and {len(fields) - MAX_NAMED} more)" if len(fields) > MAX_NAMED else ""
    if len(fields) == 1:
        return f"body field {names} is not defined by this operation and was ignored"
    return f"body fields {names}{more} are not defined by this operation and were ignored"


def asks_strict(scope: Scope) -> bool:
    return any(name == STRICT_HEADER and value.strip().lower() in TRUE for name, value in scope["headers"])


class UnknownFieldsMiddleware:
    """Reports (or, strict, refuses) the body fields that request validation found the operation does not define."""

    def __init__(self, app: ASGIApp, strict: bool = False) -> None:
        self.app = app
        self.strict = strict

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.get("state") or {}
        undefined: list[str] = state.get(UNDEFINED_FIELDS) or []
        custom = custom_keys() if undefined else frozenset()
        unknown = [name for name in undefined if name not in custom]
        if scope["type"] != "http" or not unknown:
            await self.app(scope, receive, send)
            return
        state[UNKNOWN_FIELDS] = [name[:MAX_NAME] for name in unknown[:MAX_NAMED]]
        if self.strict or asks_strict(scope):
            raise Invalid(
                f"body field {shown(unknown[0])}: not defined by this operation (strict mode refuses fields the "
                "operation does not define; without it they are ignored, as the Fintesk API ignores them)."
            )
        header = (WARNING_HEADER, warning(unknown).encode("ascii"))

        async def warned(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        await self.app(scope, receive, warned)
