"""Who a request is: its tokens, its tenant's account bound for the handler, and its writes kept before the answer."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server.domain.account import Account
from mock_server.errors import Unauthorized
from mock_server.http import big_accounts
from mock_server.settings import Settings

_current: ContextVar[Account] = ContextVar("fintesk_account")
# A masked token shows this much of a token at most, and never more than a third of it.
MASK_PREFIX = 4


@lru_cache(maxsize=4096)
def mask_token(token: str) -> str:
    """A token as the control plane shows it: a short prefix and a stable fingerprint, so the entries of one token
    can be told apart without handing the token out (`abcd…1f2e3d4c`); the empty token stays empty."""
    if not token:
        return token
    fingerprint = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{token[: min(MASK_PREFIX, len(token) // 3)]}…{fingerprint}"


def current_account() -> Account:
    """The account of the token of the request being handled: the one way handlers reach state."""
    return _current.get()


class Accounts(Protocol):
    """What the middleware needs of the tenants (`control.tenancy.Tenants`)."""

    settings: Settings

    def account_for(self, token: str) -> Awaitable[Account]: ...

    def keeps_writes(self) -> bool: ...

    def commit(self, token: str, account: Account) -> None: ...


API_PREFIX = "/v1"
# Methods that change nothing: their requests never touch the data folder.
READS = frozenset({"GET", "HEAD", "OPTIONS"})


def under(path: str, prefix: str = API_PREFIX) -> bool:
    """Whether a request path belongs to the API (the prefix itself or anything below it)."""
    return path == prefix or path.startswith(prefix + "/")


def tokens_of(scope: Scope) -> list[str]:
    """Every token a request carries: `x-api-token`, `Authorization: Bearer` and the `api_token` query parameter.
    Journal, rate limits, faults and tenancy all ask; the request's state keeps the answer for the next to ask."""
    state: dict[str, Any] = scope.setdefault("state", {})
    tokens: list[str] | None = state.get("fintesk_tokens")
    if tokens is None:
        tokens = state["fintesk_tokens"] = _read_tokens(scope)
    return list(tokens)


def _read_tokens(scope: Scope) -> list[str]:
    tokens: list[str] = []
    for name, value in scope["headers"]:
        if name == b"x-api-token" and value:
            tokens.append(value.decode("latin-1"))
        elif name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                tokens.append(credentials.strip())
    query = scope.get("query_string", b"")
    if b"api_token" in query:
        tokens += [value for name, value in parse_qsl(query.decode("latin-1")) if name == "api_token" and value]
    return tokens


class TenantMiddleware:
    """Authenticates every /v1 request and binds its tenant's account for the handler."""

    def __init__(self, app: ASGIApp, tenants: Accounts | None = None, prefix: str = "/v1") -> None:
        self.app = app
        self.tenants = tenants
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not under(scope.get("path", ""), self.prefix):
            await self.app(scope, receive, send)
            return
        assert self.tenants is not None
        tokens = tokens_of(scope)
        # A request naming two different tokens is as unauthorized as one naming a bad token.
        if not tokens or len(set(tokens)) > 1 or not self.tenants.settings.accepts(tokens[0]):
            raise Unauthorized("unauthorized access", extra={"errorCode": 401})
        token = tokens[0]
        account = await self.tenants.account_for(token)
        marker = _current.set(account)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["fintesk_token"] = token
        if self.tenants.keeps_writes() and scope["method"] not in READS:
            send = self._committing(send, token, account)
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(marker)

    def _committing(self, send: Send, token: str, account: Account) -> Send:
        """`send`, that first writes the request's changes to the data folder when the answer is a success: an
        acknowledged write is on disk before the client can see the acknowledgement."""
        tenants = self.tenants
        assert tenants is not None

        async def committing_send(message: Message) -> None:
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                # A big account's write (a first one stores the whole account) between its other requests.
                await big_accounts.run(account, tenants.commit, token, account)
            await send(message)

        return committing_send
