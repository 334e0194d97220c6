"""Injected faults: error statuses, delays, truncated or non-JSON bodies and dropped connections on /v1 requests."""

from __future__ import annotations

import asyncio
import builtins
import random
import threading
from dataclasses import asdict, dataclass, replace
from fnmatch import fnmatchcase
from http import HTTPStatus
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server.errors import Invalid, NotFound
from mock_server.http import envelope
from mock_server.http.tenant import API_PREFIX, mask_token, tokens_of, under

KINDS = ("status", "delay", "truncate", "non_json", "drop")
METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE")
PREFIX = API_PREFIX
MAX_DELAY_MS = 300_000
MAX_TEXT = 1000  # characters of a fault's path, tenant, code and message
MAX_TIMES = 1_000_000_000
# How many send-wrapping middleware a dropped connection looks through for the server's transport.
_MAX_WRAPPERS = 16
FIELDS = ("kind", "method", "path", "tenant", "status", "code", "message", "delay_ms", "times", "probability")

MESSAGES = {
    400: "Bad request.",
    401: "unauthorized access",
    402: "Company account is not open.",
    403: "You do not have permission to perform this operation.",
    404: "Not found.",
    405: "Method not allowed.",
    410: "The resource is permanently gone.",
    415: "Unsupported media type.",
    422: "Unprocessable entity.",
    429: "Request over limit. Please try again later.",
    500: "Internal server error.",
    501: "Not implemented.",
    502: "Bad gateway.",
    503: "Service temporarily unavailable.",
    504: "Gateway timeout.",
}

PROXY_PAGE = """<html>
<head><title>{status} {phrase}</title></head>
<body>
<center><h1>{status} {phrase}</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""


@dataclass
class Fault:
    id: int
    kind: str
    method: str = "*"
    path: str = "*"
    tenant: str | None = None
    status: int = 500
    code: str | None = None
    message: str | None = None
    delay_ms: int = 0
    # Counts down as the fault is applied; the fault is removed when it reaches 0.
    times: int | None = None
    probability: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fault as the control plane shows it: its tenant's token masked."""
        shown = asdict(self)
        if self.tenant is not None:
            shown["tenant"] = mask_token(self.tenant)
        return shown

    def applies_to(self, method: str, path: str, tokens: list[str]) -> bool:
        return (
            self.method in ("*", method.upper())
            and fnmatchcase(path, self.path)
            and (self.tenant is None or self.tenant in tokens)
        )


class Faults:
    """The faults in force, in the order they were added; the first one matching a request applies."""

    def __init__(self, seed: int = 0) -> None:
        self._faults: list[Fault] = []
        self._next_id = 1
        self._random = random.Random(seed)
        # Control-plane handlers may run in a thread pool while the event loop matches requests.
        self._lock = threading.Lock()

    def add(self, spec: dict[str, Any]) -> Fault:
        """Validate a fault as the control plane receives it; an `id` in it is ignored, so `to_dict()` adds back."""
        fields = _validated(spec)
        with self._lock:
            fault = Fault(id=self._next_id, **fields)
            self._next_id += 1
            self._faults.append(fault)
        return replace(fault)

    def list(self) -> list[Fault]:
        """Copies of the faults in force, so a caller never changes one by accident."""
        with self._lock:
            return [replace(fault) for fault in self._faults]

    def remove(self, fault_id: int) -> None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.id == fault_id:
                    del self._faults[index]
                    return
        raise NotFound(f"Fault {fault_id} does not exist; list the faults in force with GET /__mock__/faults.")

    def clear(self, tenant: str | None = None) -> None:
        """Remove every fault, or only those of one tenant."""
        with self._lock:
            if tenant is None:
                self._faults.clear()
            else:
                self._faults[:] = [fault for fault in self._faults if fault.tenant != tenant]

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._random = random.Random(seed)

    def match(self, method: str, path: str, tokens: builtins.list[str]) -> Fault | None:
        """A copy of the first fault that applies to this request, after using up one of its `times`."""
        if not under(path, PREFIX):
            return None
        with self._lock:
            for fault in self._faults:
                if not fault.applies_to(method, path, tokens):
                    continue
                # The die is cast only for matching requests, so the same requests from the same seed fault alike.
                if fault.probability is not None and self._random.random() >= fault.probability:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                return replace(fault)
        return None


def _validated(spec: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise Invalid(f"A fault must be a JSON object with a 'kind'; got {spec!r}.")
    unknown = sorted(set(spec) - set(FIELDS) - {"id"})
    if unknown:
        raise Invalid(f"Fault field '{unknown[0]}' is unknown; the fields are {', '.join(FIELDS)}.")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise Invalid(f"Fault 'kind' must be one of {', '.join(KINDS)}; got {kind!r}.")
    fields: dict[str, Any] = {
        "kind": kind,
        "method": _method(spec.get("method", "*")),
        "path": _path(spec.get("path", "*")),
        "tenant": _text(spec, "tenant"),
        "status": _status(spec, kind),
        "code": _text(spec, "code"),
        "message": _text(spec, "message"),
        "delay_ms": _delay(spec.get("delay_ms", 0), kind),
    }
    fields["times"], fields["probability"] = _frequency(spec.get("times"), spec.get("probability"))
    return fields


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _method(method: Any) -> str:
    if not isinstance(method, str) or method.upper() not in (*METHODS, "*"):
        raise Invalid(f"Fault 'method' must be an HTTP method ({', '.join(METHODS)}) or '*'; got {method!r}.")
    return method.upper()


def _path(path: Any) -> str:
    if not isinstance(path, str) or not path.startswith((PREFIX, "*")) or len(path) > MAX_TEXT:
        raise Invalid(
            f"Fault 'path' must be a glob on a request path under {PREFIX} (such as '/v1/deals*' or "
            f"'/v1/deals/*/products') or '*'; got {path!r}."
        )
    return path


def _text(spec: dict[str, Any], field: str) -> str | None:
    value = spec.get(field)
    if value is not None and (not isinstance(value, str) or not value or len(value) > MAX_TEXT):
        shown = f"{value[:40]!r}... ({len(value)} characters)" if isinstance(value, str) and value else repr(value)
        raise Invalid(f"Fault '{field}' must be a string of 1 to {MAX_TEXT} characters, or null; got {shown}.")
    return value


def _status(spec: dict[str, Any], kind: str) -> int:
    # A non-JSON body is what a proxy in front of the service answers, so its usual status is 502.
    status = spec.get("status", 502 if kind == "non_json" else 500)
    lowest = 200 if kind == "non_json" else 400
    if not _is_int(status) or not lowest <= status <= 599:
        raise Invalid(
            f"Fault 'status' must be a whole number from {lowest} to 599 for a {kind!r} fault; got {status!r}."
        )
    return int(status)


def _delay(delay_ms: Any, kind: str) -> int:
    if not _is_int(delay_ms) or not 0 <= delay_ms <= MAX_DELAY_MS:
        raise Invalid(
            f"Fault 'delay_ms' must be a whole number of milliseconds, 0 to {MAX_DELAY_MS}; got {delay_ms!r}."
        )
    if kind == "delay" and delay_ms == 0:
        raise Invalid("Fault 'delay_ms' must be above 0 for a 'delay' fault.")
    return int(delay_ms)


def _frequency(times: Any, probability: Any) -> tuple[int | None, float | None]:
    if times is not None and probability is not None:
        raise Invalid("Fault 'times' and 'probability' exclude each other: give one of them, or neither for always.")
    if times is not None and (not _is_int(times) or not 1 <= times <= MAX_TIMES):
        raise Invalid(f"Fault 'times' must be a whole number of requests, 1 to {MAX_TIMES}; got {times!r}.")
    if probability is not None and (
        isinstance(probability, bool) or not isinstance(probability, int | float) or not 0 < probability <= 1
    ):
        raise Invalid(f"Fault 'probability' must be a number above 0 and at most 1; got {probability!r}.")
    return times, None if probability is None else float(probability)


def error_response(fault: Fault) -> Response:
    """The Fintesk error envelope for a "status" fault, in the short form the real service uses for 401."""
    message = fault.message or MESSAGES.get(fault.status) or _phrase(fault.status)
    extra = {"code": fault.code} if fault.code else {}
    if fault.status == 401:
        body: dict[str, Any] = {"success": False, "error": message, "errorCode": 401, **extra}
    else:
        body = envelope.error_body(message, extra or None)
    headers = {"Retry-After": "2"} if fault.status == 429 else None
    return Response(envelope.encode(body), status_code=fault.status, media_type=envelope.JSON, headers=headers)


def proxy_page(fault: Fault) -> Response:
    page = PROXY_PAGE.format(status=fault.status, phrase=_phrase(fault.status))
    return Response(page, status_code=fault.status, media_type="text/html")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ConnectionDropped(Exception):
    """Raised where the server connection cannot be reached, so the server closes it without an answer."""


class FaultMiddleware:
    """Applies the first matching fault to each /v1 request; /__mock__ and everything else pass untouched."""

    def __init__(self, app: ASGIApp, faults: Faults | None = None) -> None:
        self.app = app
        self.faults = faults if faults is not None else Faults()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fault = None
        if scope["type"] == "http":
            fault = self.faults.match(scope["method"], scope["path"], tokens_of(scope))
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.delay_ms:
            await asyncio.sleep(fault.delay_ms / 1000)
        if fault.kind == "status":
            await error_response(fault)(scope, receive, send)
        elif fault.kind == "non_json":
            await proxy_page(fault)(scope, receive, send)
        elif fault.kind == "truncate":
            await self.app(scope, receive, _truncating(send))
        elif fault.kind == "drop":
            await _drop(send)
        else:
            await self.app(scope, receive, send)


def _truncating(send: Send) -> Send:
    """A `send` that holds the response back and passes on its first half, with a Content-Length to match."""
    start: Message = {}
    chunks: list[bytes] = []

    async def send_half(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                body = b"".join(chunks)
                half = body[: len(body) // 2]
                headers = [
                    (name, value) for name, value in start.get("headers", []) if name.lower() != b"content-length"
                ]
                await send({**start, "headers": [*headers, (b"content-length", str(len(half)).encode())]})
                await send({"type": "http.response.body", "body": half})
        else:
            await send(message)

    return send_half


async def _drop(send: Send) -> None:
    """Close the connection without a byte of answer, as a crashed server or a cut network would.

    ASGI has no message for this, and a server answers 500 to an app that sends nothing, so this reaches for
    uvicorn's transport behind `send`.
    """
    transport = _server_transport(send)
    if transport is not None:
        transport.close()
        # Let the server notice the closed connection, so it neither tries a 500 nor logs a missing response.
        await asyncio.sleep(0)
        return
    # Not uvicorn, or wrapped past recognition: uvicorn refuses this header before writing anything, then closes
    # the connection because the response had started. A server that accepts it still sees the error raised below.
    await send({"type": "http.response.start", "status": 500, "headers": [(b"x-fintesk-mock-drop", b"\r\n")]})
    raise ConnectionDropped("Connection dropped by an injected fault.")


def _server_transport(send: Any, depth: int = 0) -> Any:
    """The transport of uvicorn's request cycle, whose method `send` is, through the closures middleware wrap it in."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None and callable(getattr(transport, "close", None)):
        return transport
    if depth >= _MAX_WRAPPERS:
        return None
    for cell in getattr(send, "__closure__", None) or ():
        try:
            captured = cell.cell_contents
        except ValueError:  # a cell not filled yet
            continue
        if callable(captured) and captured is not send:
            found = _server_transport(captured, depth + 1)
            if found is not None:
                return found
    return None
