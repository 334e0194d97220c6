"""The request journal: the last requests of each tenant, without secrets, so a user's test can assert what it sent."""

from __future__ import annotations

import copy
import itertools
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server.control.auth import ADMIN_PREFIX
from mock_server.domain.clock import DATETIME_FORMAT
from mock_server.errors import Invalid
from mock_server.http import limits
from mock_server.http.asgi import StatusRecorder, read_request, replayed
from mock_server.http.tenant import mask_token, tokens_of, under

MAX_TENANTS = 1000
MAX_TEXT_BYTES = 10 * 1024
# The most entries one listing answers (the newest), so a listing of every tenant's requests stays bounded.
MAX_LISTED = 10_000
# A JSON body is kept parsed up to this size; a bigger one is kept as truncated text, so memory stays bounded.
MAX_JSON_BYTES = 64 * 1024
MASK = "***"
SECRET_HEADERS = frozenset({"x-api-token", "authorization", "proxy-authorization", "cookie"})
SECRET_PARAMETERS = frozenset({"api_token"})
_GLOB = frozenset("*?[")
DETAILS = "_details"
# Where `control.unknown` leaves the body fields a request's operation does not define, in the request's state.
UNKNOWN_FIELDS = "fintesk_unknown_fields"  # the key of an entry's not yet decoded details


def _utc_stamp(_token: str = "") -> str:
    return datetime.now(UTC).strftime(DATETIME_FORMAT)


def path_matches(pattern: str, path: str) -> bool:
    """A glob (`/v1/deals/*`) matches the whole path; a plain path matches itself and everything under it."""
    if _GLOB & set(pattern):
        return fnmatchcase(path, pattern)
    prefix = pattern.rstrip("/")
    return not prefix or path == prefix or path.startswith(prefix + "/")


class Journal:
    """The last `size` requests of each of the last `MAX_TENANTS` active tenants; ids increase across the journal."""

    def __init__(self, size: int = 200, stamp: Callable[[str], str] = _utc_stamp) -> None:
        if size < 1:
            raise Invalid(f"Journal 'size' must be a whole number of requests, 1 or more; got {size!r}.")
        self.size = size
        # The time of a token's tenant: its clock can be passed, so a frozen clock freezes journal times too.
        self.stamp = stamp
        self._ids = itertools.count(1)
        self._tenants: OrderedDict[str, deque[dict[str, Any]]] = OrderedDict()
        # Listing may run in a handler's worker thread while the event loop records.
        self._lock = threading.Lock()

    def record(self, token: str, entry: dict[str, Any], details: Callable[[], dict[str, Any]] | None = None) -> None:
        """Keep `entry` for `token`, numbered by the journal and stamped with the time unless it has one.
        `details`, when given, makes the rest of the entry; it is called only when the entry is first listed."""
        with self._lock:
            number = next(self._ids)
            entry = {"id": number, "time": self.stamp(token), **entry}
            # The journal's numbering and tenant win over the caller's; the tenant is shown masked, never as the token.
            entry.update(id=number, tenant=mask_token(token))
            if details is not None:
                entry[DETAILS] = details
            entries = self._tenants.get(token)
            if entries is None:
                entries = self._tenants[token] = deque(maxlen=self.size)
                if len(self._tenants) > MAX_TENANTS:
                    self._tenants.popitem(last=False)
            self._tenants.move_to_end(token)
            entries.append(entry)

    def entries(
        self, token: str | None = None, path: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Journaled requests, oldest first: of one tenant or all, on a path glob or under a path, the last `limit`
        (and never more than `MAX_LISTED`). Only the entries listed are decoded and copied."""
        if limit is not None and limit < 0:
            raise Invalid(f"Journal 'limit' must be a whole number of requests, 0 or more; got {limit!r}.")
        limit = MAX_LISTED if limit is None else min(limit, MAX_LISTED)
        with self._lock:
            if token is None:
                pool: Iterable[dict[str, Any]] = itertools.chain.from_iterable(self._tenants.values())
            else:
                pool = self._tenants.get(token, ())
            chosen = [entry for entry in pool if path is None or path_matches(path, entry.get("path", ""))]
            if token is None:
                chosen.sort(key=lambda entry: entry["id"])
            chosen = chosen[max(0, len(chosen) - limit) :]
            for entry in chosen:
                if DETAILS in entry:
                    _complete(entry)
        return copy.deepcopy(chosen)

    def clear(self, token: str | None = None) -> None:
        with self._lock:
            if token is None:
                self._tenants.clear()
            else:
                self._tenants.pop(token, None)


def masked_query(query_string: bytes) -> dict[str, Any]:
    """Query parameters by name (a list when a name repeats), with the token masked."""
    query: dict[str, Any] = {}
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        shown = MASK if name in SECRET_PARAMETERS else value
        if name not in query:
            query[name] = shown
        elif isinstance(query[name], list):
            query[name].append(shown)
        else:
            query[name] = [query[name], shown]
    return query


def masked_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Request headers by lowercased name, repeats joined by `, `, with credentials masked."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in raw:
        name = raw_name.decode("latin-1").lower()
        value = MASK if name in SECRET_HEADERS else raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def decoded_body(body: bytes, content_type: str) -> Any:
    """The body as parsed JSON when it is JSON of a modest size, else as text cut to 10 kB; None when empty."""
    if not body:
        return None
    if len(body) <= MAX_JSON_BYTES and (not content_type or "json" in content_type):
        try:
            return limits.loads(body)  # refuses what no answer could render: deep nesting, lone surrogates
        except ValueError:
            pass
    return cut_text(body)


def cut_text(body: bytes) -> str:
    """A body as the journal keeps one it does not parse: text, cut to 10 kB."""
    return body[:MAX_TEXT_BYTES].decode("utf-8", errors="replace")


class JournalMiddleware:
    """Journals every request under its token (anonymous ones under ""), with the status and the time taken: the
    API's, and those it does not serve (another prefix, an unknown path, a method a path lacks), so that a client
    that calls the wrong URL sees what it sent. Only paths under `unjournaled` (the control plane) are left out."""

    def __init__(
        self, app: ASGIApp, journal: Journal | None = None, unjournaled: tuple[str, ...] = (ADMIN_PREFIX,)
    ) -> None:
        self.app = app
        self.journal = journal or Journal()
        self.unjournaled = unjournaled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or any(under(path, prefix) for prefix in self.unjournaled):
            await self.app(scope, receive, send)
            return
        tokens = tokens_of(scope)
        started, stamp = time.perf_counter(), self.journal.stamp(tokens[0] if tokens else "")
        messages, pieces = await read_request(receive)
        body = b"".join(pieces)
        answer = StatusRecorder(send)
        try:
            # The app reads the body already read here; after it, disconnects come from the real channel.
            await self.app(scope, replayed(messages, receive), answer)
        finally:
            self._record(scope, body, answer.status, started, stamp)

    def _record(self, scope: Scope, body: bytes, status: int, started: float, stamp: str) -> None:
        tokens = tokens_of(scope)
        entry = {
            "time": stamp,
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        unknown = scope.get("state", {}).get(UNKNOWN_FIELDS)
        if unknown:  # body fields the operation does not define (see `control.unknown`)
            entry["unknown_fields"] = list(unknown)
        # Most entries are never listed: their query, headers and body are decoded and masked when first listed.
        # A big body is kept as text cut to size (as it is listed), so the journal's memory stays bounded.
        kept: bytes | str = body if len(body) <= MAX_JSON_BYTES else cut_text(body)
        details = partial(_details, scope.get("query_string", b""), list(scope["headers"]), kept)
        self.journal.record(tokens[0] if tokens else "", entry, details)


def _details(query_string: bytes, raw_headers: list[tuple[bytes, bytes]], body: bytes | str) -> dict[str, Any]:
    headers = masked_headers(raw_headers)
    return {
        "query": masked_query(query_string),
        "headers": headers,
        "body": body if isinstance(body, str) else decoded_body(body, headers.get("content-type", "")),
    }


def _complete(entry: dict[str, Any]) -> None:
    """The entry with its details made, its keys in the order of a request's story."""
    details = entry.pop(DETAILS)()
    ordered = {**{key: entry[key] for key in ("id", "time", "method", "path")}, **details, **entry}
    entry.clear()
    entry.update(ordered)
