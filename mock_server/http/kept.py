"""Reads answered again from the bytes of their last answer while nothing they read has changed.

A read of the API (a GET handler) answers from its arguments, the tenant's account and the clock, and the clock
counts whole seconds. Every collection of an account counts its changes, so `Account.version()` changes with
anything a read can see; an answer kept under that version and the clock's second is the very answer the
handler would give again. Asking again costs a lookup instead of rendering and encoding: a 100-deal page is
rendered, and its 120 kB encoded, once per change or second instead of on every request.

Kept per account (never shared by tenants), at most `MAX_ANSWERS` answers and `MAX_BYTES` bytes of each, all
dropped at the first change. A request with `Cache-Control: no-cache` is answered afresh, and its answer is not
kept (keeping it cost a fresh read a tenth of its time; the next plain read keeps its own).
Only successful answers are kept; a handler that fails raises on every call as before.

An answer is kept under its handler's arguments, and also under the request's path and query string as they
arrived: the API's reads take no header parameters, so the same path and query always parse and validate to
the same arguments. `KeptAnswerMiddleware` answers a repeat of those from the kept bytes before the request is
parsed and validated again (those steps were over a third of a kept answer's cost).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from connexion.context import scope as request_scope
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server.domain.account import Account

MAX_ANSWERS = 256
MAX_BYTES = 16 * 1024 * 1024

Handler = Callable[..., Awaitable[Response]]


class KeptAnswers:
    """One account's kept answers, all for one version of it and one second of the clock."""

    def __init__(self) -> None:
        self.moment: tuple[tuple[int, ...], datetime] | None = None
        self.answers: dict[tuple[Any, ...], Response] = {}
        # The same answers by the path and query string of a request they answered.
        self.requests: dict[tuple[str, bytes], Response] = {}
        self.size = 0

    def at(self, moment: tuple[tuple[int, ...], datetime]) -> dict[tuple[Any, ...], Response]:
        """The answers kept at `moment`; any kept at another moment are dropped."""
        if moment != self.moment:
            self.moment, self.answers, self.requests, self.size = moment, {}, {}, 0
        return self.answers

    def keep(
        self, moment: tuple[tuple[int, ...], datetime], key: tuple[Any, ...], answer: Response,
        request: tuple[str, bytes] | None = None,
    ) -> None:  # fmt: skip
        answers = self.at(moment)
        kept = answers.get(key)
        if kept is None and len(answers) < MAX_ANSWERS and self.size + len(answer.body) <= MAX_BYTES:
            kept = answers[key] = answer
            self.size += len(answer.body)
        if kept is not None and request is not None and len(self.requests) < MAX_ANSWERS:
            self.requests[request] = kept

    def for_request(self, moment: tuple[tuple[int, ...], datetime], request: tuple[str, bytes]) -> Response | None:
        """The answer kept at `moment` for a request of this path and query string, if any."""
        self.at(moment)
        return self.requests.get(request)


_kept: weakref.WeakKeyDictionary[Account, KeptAnswers] = weakref.WeakKeyDictionary()


def kept_answers(account: Account) -> KeptAnswers:
    answers = _kept.get(account)
    if answers is None:
        answers = _kept[account] = KeptAnswers()
    return answers


def arguments_key(handler: Handler, arguments: dict[str, Any]) -> tuple[Any, ...] | None:
    """The handler and its arguments as a key; None when an argument cannot be one (the answer is not kept)."""
    try:
        key = (handler, *sorted((name, tuple(value) if isinstance(value, list) else value)
                                for name, value in arguments.items()))  # fmt: skip
        hash(key)
    except TypeError:
        return None
    return key


def wants_fresh(scope: Scope) -> bool:
    """Whether the request asks caches not to answer it from what they kept (`Cache-Control: no-cache`)."""
    return any(name == b"cache-control" and b"no-cache" in value.lower() for name, value in scope["headers"])


def moment_of(account: Account) -> tuple[tuple[int, ...], datetime]:
    return account.version(), account.clock.now()


def replay(answer: Response) -> Response:
    """A shallow copy with a fresh header list: middleware may add headers to the list an answer sends. (Made
    directly: `copy.copy` goes through the pickling protocol, several times slower.)"""
    again = object.__new__(type(answer))
    again.__dict__.update(answer.__dict__)
    again.raw_headers = list(answer.raw_headers)
    return again


def kept_read(handler: Handler, current_account: Callable[[], Account]) -> Handler:
    """`handler`, a read of the account `current_account` names, answering a repeat from its kept answer."""

    @functools.wraps(handler)
    async def read(**arguments: Any) -> Response:
        if wants_fresh(request_scope):
            return await handler(**arguments)
        account = current_account()
        key = arguments_key(handler, arguments)
        if key is None:
            return await handler(**arguments)
        answers = kept_answers(account)
        moment = moment_of(account)
        answer = answers.at(moment).get(key)
        if answer is not None:
            return replay(answer)
        answer = await handler(**arguments)
        # A read that changed something or spanned a tick of the clock is not kept, nor a streamed answer.
        if answer.status_code == 200 and moment == moment_of(account) and not isinstance(answer, StreamingResponse):
            answers.keep(moment, key, replay(answer), request_of(request_scope))
        return answer

    return read


def request_of(scope: Scope) -> tuple[str, bytes] | None:
    """A GET's path and query string, the key of its kept answer before parsing; None for another method."""
    return (scope["path"], scope["query_string"]) if scope["method"] == "GET" else None


class KeptAnswerMiddleware:
    """Answers a read from the answer kept for its very path and query string (see the module), before the
    request is parsed and validated again. Inside the tenant's middleware: `current_account` is the request's
    account, or raises `LookupError` outside the API."""

    def __init__(self, app: ASGIApp, current_account: Callable[[], Account]) -> None:
        self.app = app
        self.current_account = current_account

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not wants_fresh(scope):
            try:
                account = self.current_account()
            except LookupError:
                account = None
            if account is not None and (answers := _kept.get(account)) is not None:
                request = request_of(scope)
                assert request is not None
                answer = answers.for_request(moment_of(account), request)
                if answer is not None:
                    await replay(answer)(scope, receive, send)
                    return
        await self.app(scope, receive, send)
