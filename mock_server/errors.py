"""Errors the mock answers with: each carries its HTTP status and a message for the Fintesk envelope."""

from __future__ import annotations

from typing import Any

RESOURCE_MISSING = "A resource required for this operation was not found."


class FinteskError(Exception):
    status = 500

    def __init__(self, message: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class Invalid(FinteskError):
    """The request is well-formed but its data is not acceptable (400)."""

    status = 400


class Unauthorized(FinteskError):
    status = 401


class Forbidden(FinteskError):
    """A limit of the account's plan, such as its number of webhooks (403)."""

    status = 403


class NotFound(FinteskError):
    """The addressed record does not exist or is deleted (404)."""

    status = 404


class MissingReference(NotFound):
    """A record named in the request (a `person_id`, a `stage_id`, ...) does not exist (404)."""

    def __init__(self, field: str, value: object) -> None:
        super().__init__(f"{RESOURCE_MISSING} {field} {value!r} does not exist.")
        self.field = field
