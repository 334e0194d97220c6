"""Rate limits like the real service: per token, a rolling 2-second window, headers on every answer, 429 past it."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server.errors import Invalid
from mock_server.http import envelope
from mock_server.http.tenant import mask_token, tokens_of, under

# Past this many remembered tokens, windows that have emptied are swept, so memory follows the active tokens.
_SWEEP_AT = 1024


def _checked(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise Invalid(
            f"Rate limit 'limit' must be a whole number of requests, 0 or more (0 turns limiting off); got {limit!r}."
        )
    return limit


class RateLimiter:
    """A sliding log per token: a request counts until `window` seconds after it was allowed.

    Only allowed requests are logged, so a client that keeps retrying through a 429 gets in again as soon as its
    oldest allowed request leaves the window, as with the real service's rolling window.
    """

    def __init__(self, limit: int = 0, window: float = 2.0, now: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._now = now
        self._initial = _checked(limit)
        self._default = self._initial
        self._overrides: dict[str, int] = {}
        self._logs: dict[str, deque[float]] = {}
        # Control-plane handlers may run in a thread pool while the event loop takes requests.
        self._lock = threading.Lock()

    def set_limit(self, limit: int, token: str | None = None) -> None:
        """Requests allowed per window: for one token (0 turns it off for that token) or, without one, the default."""
        _checked(limit)
        with self._lock:
            if token is None:
                self._default = limit
            else:
                self._overrides[token] = limit

    def limit_for(self, token: str) -> int:
        with self._lock:
            return self._overrides.get(token, self._default)

    def limits(self) -> dict[str, Any]:
        with self._lock:
            return {"default": self._default, "tokens": {mask_token(token): n for token, n in self._overrides.items()}}

    def take(self, token: str) -> tuple[bool, dict[str, str]]:
        """Count one request of `token`: whether it is allowed, and the rate-limit headers its answer carries."""
        with self._lock:
            limit = self._overrides.get(token, self._default)
            if limit <= 0:
                return True, {}
            now = self._now()
            log = self._window_of(token, now)
            allowed = len(log) < limit
            if allowed:
                log.append(now)
            return allowed, self._headers(limit, log, now)

    def reset(self, token: str | None = None) -> None:
        """Forget the windows and per-token limits of one token, or of all and restore the starting default."""
        with self._lock:
            if token is None:
                self._logs.clear()
                self._overrides.clear()
                self._default = self._initial
            else:
                self._logs.pop(token, None)
                self._overrides.pop(token, None)

    def _window_of(self, token: str, now: float) -> deque[float]:
        if token not in self._logs and len(self._logs) >= _SWEEP_AT:
            self._sweep(now)
        log = self._logs.setdefault(token, deque())
        while log and log[0] <= now - self.window:
            log.popleft()
        return log

    def _sweep(self, now: float) -> None:
        for token in [token for token, log in self._logs.items() if not log or log[-1] <= now - self.window]:
            del self._logs[token]

    def _headers(self, limit: int, log: deque[float], now: float) -> dict[str, str]:
        remaining = max(0, limit - len(log))
        # Whole seconds until the oldest counted request leaves the window and frees a slot, rounded up so that a
        # client waiting that long is never early.
        frees_in = math.ceil(log[0] + self.window - now) if log else 0
        reset = min(max(frees_in, 0 if remaining else 1), math.ceil(self.window))
        return {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-reset": str(reset),
        }


class RateLimitMiddleware:
    """Counts every /v1 request that carries a token, adds the rate-limit headers and answers 429 past the limit."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter | None = None, prefix: str = "/v1") -> None:
        self.app = app
        self.limiter = limiter or RateLimiter()
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        tokens = tokens_of(scope) if scope["type"] == "http" and under(path, self.prefix) else []
        if not tokens:
            await self.app(scope, receive, send)
            return
        allowed, headers = self.limiter.take(tokens[0])
        if not allowed:
            await self._refuse(send, headers)
            return
        if not headers:
            await self.app(scope, receive, send)
            return
        raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *raw]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _refuse(self, send: Send, headers: dict[str, str]) -> None:
        limit, reset = headers["x-ratelimit-limit"], headers["x-ratelimit-reset"]
        seconds = "second" if reset == "1" else "seconds"
        message = (
            f"Request over limit: this token may make {limit} requests per {self.limiter.window:g} seconds."
            f" Retry after {reset} {seconds}."
        )
        body = envelope.encode(envelope.error_body(message, {"errorCode": 429}))
        all_headers = {"content-type": envelope.JSON, "content-length": str(len(body)), "retry-after": reset, **headers}
        raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in all_headers.items()]
        await send({"type": "http.response.start", "status": 429, "headers": raw})
        await send({"type": "http.response.body", "body": body})
