"""Limits at the door: body and header sizes, JSON depth, text that UTF-8 can carry and numbers that stay finite."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server.errors import FinteskError
from mock_server.http import envelope

MB = 1024 * 1024
# The request path (decoded) and query string: Starlette turns a path id into an int, which fails past 4,300 digits.
MAX_PATH_CHARS = 2048
MAX_QUERY_BYTES = 32 * 1024
# Every request header together (names and values); uvicorn's h11 parser is given the same bound.
MAX_HEADER_BYTES = 64 * 1024
# Objects and arrays nested inside one another in a JSON body, the body itself counting as the first.
MAX_JSON_DEPTH = 64
# Digits of an integer: more than a float holds (about 308) breaks every sum and conversion it enters.
MAX_INT_DIGITS = 300
# A surrogate escape (`\ud800`) in JSON text: the only way a lone surrogate gets into a parsed string.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class TooLarge(FinteskError):
    status = 413


class HeadersTooLarge(FinteskError):
    status = 431


class UriTooLong(FinteskError):
    status = 414


class LimitsMiddleware:
    """Refuses paths and query strings over their limits (414), headers over `MAX_HEADER_BYTES` (431) and bodies
    over the limit of their path (413) before the body is read whole: a declared `content-length` is refused at
    once, a streamed body once it passes the limit."""

    def __init__(self, app: ASGIApp, max_body: int = 10 * MB, large_bodies: tuple[str, int] | None = None) -> None:
        self.app = app
        self.max_body = max_body
        # (a path pattern, its larger limit): the control plane's state import
        self.large = (re.compile(large_bodies[0]), large_bodies[1]) if large_bodies else None

    def limit_for(self, path: str) -> int:
        if self.large is not None and self.large[0].fullmatch(path):
            return self.large[1]
        return self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        try:
            _check_target(scope)
            _check_headers(scope["headers"], limit)
        except FinteskError as error:
            await _refuse(send, error)
            return
        if not _has_body(scope["headers"]):  # nothing to count: HTTP/1.1 sends a body only with one of these
            await self.app(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise TooLarge(_too_large(limit))
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watching_send)
        except TooLarge as error:  # raised where no error handler stood between the read and this middleware
            if started:
                raise
            await _refuse(send, error)


def _check_target(scope: Scope) -> None:
    if len(scope.get("path", "")) > MAX_PATH_CHARS:
        raise UriTooLong(f"The request path is longer than {MAX_PATH_CHARS} characters, the most accepted.")
    if len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
        raise UriTooLong(f"The query string is longer than {MAX_QUERY_BYTES} bytes, the most accepted.")


def _check_headers(headers: list[tuple[bytes, bytes]], limit: int) -> None:
    size = sum(len(name) + len(value) for name, value in headers)
    if size > MAX_HEADER_BYTES:
        raise HeadersTooLarge(
            f"The request headers take {size} bytes; at most {MAX_HEADER_BYTES} bytes of headers are accepted."
        )
    for name, value in headers:
        if name == b"content-length":
            if not value.isdigit() or len(value) > 18:
                raise TooLarge(f"Header 'content-length': {value[:40].decode('latin-1')!r} is not a byte count.")
            if int(value) > limit:
                raise TooLarge(_too_large(limit))


def _has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name in (b"content-length", b"transfer-encoding") for name, _ in headers)


def _too_large(limit: int) -> str:
    return f"The request body is larger than {limit // MB} MB, the most this path accepts; send a smaller body."


async def _refuse(send: Send, error: FinteskError) -> None:
    body = envelope.encode(envelope.error_body(error.message))
    await send({"type": "http.response.start", "status": error.status,
                "headers": [(b"content-type", envelope.JSON.encode()), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


# --- JSON bodies ------------------------------------------------------------------------------------------------


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite(value: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value[:20]} is too large for a number")
    return number


def _bounded_int(value: str) -> int:
    # Any integer is valid JSON and schema-valid, but one a float cannot hold breaks every sum it enters.
    if len(value.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"{value[:20]}... is too large for a number; give at most {MAX_INT_DIGITS} digits")
    return int(value)


def loads(raw: bytes) -> Any:
    """JSON text as Python values, refusing with a ValueError that names the problem (and the field where there is
    one): text that is not UTF-8, NaN and infinities, numbers too large for a float, nesting deeper than
    `MAX_JSON_DEPTH`, and strings with a lone surrogate, which no UTF-8 answer could ever carry back.

    orjson parses several times faster and refuses all of these itself, except that it nests up to 1,024 deep and
    turns integers past 64 bits into floats: one walk checks the depth and, on finding such a float, leaves the text
    to the standard parser, which keeps every digit (and names whatever is wrong)."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _standard_loads(raw)  # which says what is wrong
    problem = _unsettled(value)
    if problem == "deep":
        raise ValueError(f"the request body nests deeper than {MAX_JSON_DEPTH} levels")
    return value if problem is None else _standard_loads(raw)


# The magnitude from which orjson may have made a float of an integer it could not hold.
_INT_AS_FLOAT = 2.0**63


def _unsettled(value: Any) -> str | None:
    """Why orjson's value cannot stand: `deep` past `MAX_JSON_DEPTH` levels, `float` for a float that may have been
    a long integer; None when it can. Level by level, so no recursion, and one pass over every value."""
    level, depth = [value], 1  # `depth` is that of the objects and arrays in `level`
    while level:
        below: list[Any] = []
        for current in level:
            kind = type(current)
            if kind is dict or kind is list:
                if depth > MAX_JSON_DEPTH:
                    return "deep"
                below.extend(current.values() if kind is dict else current)
            elif kind is float and abs(current) >= _INT_AS_FLOAT:
                return "float"
        level, depth = below, depth + 1
    return None


def _standard_loads(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the request body is not valid UTF-8") from None
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH:
        _check_depth(text)
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite, parse_int=_bounded_int)
    except RecursionError:
        raise ValueError(f"the request body nests deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as error:
        raise ValueError(f"the request body is not valid JSON: {error}") from None
    if _SURROGATE_ESCAPE.search(raw):
        _check_text(value)
    return value


def _check_depth(text: str) -> None:
    """Refuse nesting past the limit before parsing: Python's parser recurses once per level."""
    depth = 0
    for token in _STRUCTURE.finditer(text):
        bracket = token.group()
        if bracket in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"the request body nests deeper than {MAX_JSON_DEPTH} levels")
        elif bracket in "]}":
            depth -= 1


# Strings (skipped whole, escapes included) and the brackets outside them.
_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _check_text(value: Any) -> None:
    """Every string (and key) must be encodable as UTF-8; the error names the first field that is not."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(value, ())]
    while stack:
        current, where = stack.pop()
        if isinstance(current, str):
            _encodable(current, where)
        elif isinstance(current, dict):
            for key, item in current.items():
                _encodable(key, where)
                stack.append((item, (*where, key)))
        elif isinstance(current, list):
            stack.extend((item, (*where, str(position))) for position, item in enumerate(current))


def _encodable(text: str, where: tuple[str, ...]) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        field = f"body field '{'.'.join(where)}'" if where else "the request body"
        raise ValueError(f"{field} holds a lone surrogate (such as \\ud800), which is not text") from None
