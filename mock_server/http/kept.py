"""Reads answered again from the bytes of their last answer while nothing they read has changed.

A read of the API (a GET) answers from its path and query, the tenant's account and the clock, and the clock counts
whole seconds. Every collection of an account counts its changes, so `Account.version()` changes with anything a
read can see; an answer kept under that version and the clock's second is the very answer the read would give
again. A repeat of the same path and query is answered from the kept bytes before it is parsed and validated again.

Kept per account (never shared by tenants), at most `MAX_ANSWERS` answers and `MAX_BYTES` bytes of them, all
dropped at the first change. A request with `Cache-Control: no-cache` is answered afresh, and its answer is not
kept. Only successful answers sent whole are kept (not a streamed one), and only when nothing changed meanwhile.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server.domain.account import Account

MAX_ANSWERS = 256
MAX_BYTES = 16 * 1024 * 1024

Moment = tuple[tuple[int, ...], datetime]
Request = tuple[str, bytes]


class KeptAnswers:
    """One account's kept answers, all for one version of it and one second of the clock: by the path and query
    string of the request they answered, its status line and headers, and its body."""

    def __init__(self) -> None:
        self.moment: Moment | None = None
        self.answers: dict[Request, tuple[Message, bytes]] = {}
        self.size = 0

    def at(self, moment: Moment) -> dict[Request, tuple[Message, bytes]]:
        """The answers kept at `moment`; any kept at another moment are dropped."""
        if moment != self.moment:
            self.moment, self.answers, self.size = moment, {}, 0
        return self.answers

    def keep(self, moment: Moment, request: Request, start: Message, body: bytes) -> None:
        answers = self.at(moment)
        if request not in answers and len(answers) < MAX_ANSWERS and self.size + len(body) <= MAX_BYTES:
            answers[request] = (start, body)
            self.size += len(body)


_kept: weakref.WeakKeyDictionary[Account, KeptAnswers] = weakref.WeakKeyDictionary()


def wants_fresh(scope: Scope) -> bool:
    """Whether the request asks caches not to answer it from what they kept (`Cache-Control: no-cache`)."""
    return any(name == b"cache-control" and b"no-cache" in value.lower() for name, value in scope["headers"])


def moment_of(account: Account) -> Moment:
    return account.version(), account.clock.now()


class KeptAnswerMiddleware:
    """Answers a read from the answer kept for its very path and query string (see the module), and keeps the
    answer of one that had none. Inside the tenant's middleware: `current_account` is the request's account, or
    raises `LookupError` outside the API."""

    def __init__(self, app: ASGIApp, current_account: Callable[[], Account]) -> None:
        self.app = app
        self.current_account = current_account

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        account = None
        if scope["type"] == "http" and scope["method"] == "GET" and not wants_fresh(scope):
            with contextlib.suppress(LookupError):
                account = self.current_account()
        if account is None:
            await self.app(scope, receive, send)
            return
        answers = _kept.get(account)
        if answers is None:
            answers = _kept[account] = KeptAnswers()
        request: Request = (scope["path"], scope["query_string"])
        moment = moment_of(account)
        kept = answers.at(moment).get(request)
        if kept is not None:
            start, body = kept
            # Middleware outside may add headers to the list an answer sends: each answer gets a list of its own.
            await send({**start, "headers": list(start["headers"])})
            await send({"type": "http.response.body", "body": body})
            return
        sent: dict[str, Any] = {"start": None, "body": [], "whole": True}

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["start"] = {**message, "headers": list(message.get("headers", []))}
            elif message["type"] == "http.response.body":
                sent["body"].append(message.get("body", b""))
                sent["whole"] = sent["whole"] and not message.get("more_body", False)
            await send(message)

        await self.app(scope, receive, watched)
        start = sent["start"]
        if start is not None and start["status"] == 200 and sent["whole"] and moment == moment_of(account):
            answers.keep(moment, request, start, b"".join(sent["body"]))
