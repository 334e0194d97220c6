"""Big accounts: one rule keeps them from holding up everyone else.

A request of the API reads or writes one tenant's account, and on a small account (the bundled one) that takes
well under a millisecond, so it runs on the event loop as it is. On an account of more than `BIG_ACCOUNT` records
(such as one made with `--generate-deals`) a sort, a summary, a timeline, a first search or a state export walks
every record, for up to seconds. Every request of such an account runs in a worker thread instead, under a lock
of the account's own:

- the event loop stays free for other tenants and the control plane, and
- the account's requests take turns, as they do on the loop, so its records and the views kept from them need no
  locks of their own.

Handlers are coroutines that never suspend once their arguments are parsed, so one runs to its end in the thread
as a plain call. The lock is an asyncio lock: waiting for it holds no thread. Big answers are streamed to the
client as it takes them (see `envelope.streamed`), so none is written in one go.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from mock_server.domain.account import Account

# An account with more records than this (every collection's, deleted ones included) is big.
BIG_ACCOUNT = 10_000

T = TypeVar("T")
Handler = Callable[..., Awaitable[Any]]
_locks: weakref.WeakKeyDictionary[Account, asyncio.Lock] = weakref.WeakKeyDictionary()


def is_big(account: Account) -> bool:
    """Whether the account's requests run off the event loop. Records are soft-deleted, so a big account stays big."""
    return sum(map(len, account.collections().values())) > BIG_ACCOUNT


def lock_of(account: Account) -> asyncio.Lock:
    """The lock the account's off-loop work takes (made on first use; only the event loop asks)."""
    lock = _locks.get(account)
    if lock is None:
        lock = _locks[account] = asyncio.Lock()
    return lock


async def run(account: Account, work: Callable[..., T], *args: Any) -> T:
    """`work(*args)`, which reads or changes `account`: inline for a small account, and for a big one in a worker
    thread once the account's other requests are done (the request's context goes along)."""
    if not is_big(account):
        return work(*args)
    async with lock_of(account):
        return await asyncio.to_thread(work, *args)


async def settled(account: Account) -> None:
    """Once the requests of a big account in flight have ended."""
    if is_big(account):
        async with lock_of(account):
            pass


def off_the_loop(handler: Handler, current_account: Callable[[], Account]) -> Handler:
    """`handler`, an operation on the account `current_account` names, run as `run` runs work."""

    @functools.wraps(handler)
    async def call(**arguments: Any) -> Any:
        account = current_account()
        if not is_big(account):
            return await handler(**arguments)
        return await run(account, _completed, handler, arguments)

    return call


def _completed(handler: Callable[..., Coroutine[Any, Any, T]], arguments: dict[str, Any]) -> T:
    """The result of `handler(**arguments)`, a coroutine that finishes without suspending, run to its end here."""
    coroutine = handler(**arguments)
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError(f"{handler.__qualname__} waited for something: it cannot run in a worker thread")
