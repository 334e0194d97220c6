"""Bounded work on the event loop: a big account's requests run in a worker thread, one at a time.

A request of the API reads or writes one tenant's account, and on a small account (the bundled one) that takes
well under a millisecond: it runs on the event loop as it is. On a big account (more than `BIG_ACCOUNT` records,
such as one made with `--generate-deals`) a sort, a summary, a timeline, a first search (which builds its index)
or a state export walks every record, for up to seconds. Such an account's requests run in a worker thread
instead, under a lock of the account's own:

- the loop stays free for other tenants and the control plane (with the GIL it gets its turn at every switch
  interval, a few milliseconds), and
- the account is never read and written by two requests at once: its requests take turns, as they do on the
  loop, so neither its records nor what is built from them on first use (indexes, kept renders) need locks.

Handlers are coroutines that never suspend once their arguments are parsed, so one runs to its end in the
thread as a plain call. The lock is an asyncio lock: waiting for it holds no thread.
"""

from __future__ import annotations

import asyncio
import functools
import operator
import sys
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from mock_server.data.bulk import no_collection
from mock_server.domain.account import COLLECTION_NAMES, Account

# An account with more records than this (every collection's, deleted ones included) is big.
BIG_ACCOUNT = 10_000
# A write (one record created, changed or deleted) scans nothing, so on a big account it runs on the loop (under
# the account's lock) until the account passes this many records: a thread hop doubled a write's cost.
BIG_FOR_WRITES = 50_000

# The GIL switch interval while a big account's work runs in a worker thread. The event loop gives up the GIL at
# every turn (in `select`) and then waits up to the interval to have it back, several times for one request: at
# Python's 5 ms, a health check waited 10-17 ms behind a timeline. Without such work the default stays.
BUSY_SWITCH_S = 0.001

T = TypeVar("T")
Handler = Callable[..., Awaitable[Any]]
_COLLECTIONS = operator.attrgetter(*COLLECTION_NAMES)
_locks: weakref.WeakKeyDictionary[Account, asyncio.Lock] = weakref.WeakKeyDictionary()
# Works running in worker threads, and the switch interval to restore when the last one ends (see `switching`).
_busy = 0
_idle_switch_s = sys.getswitchinterval()


def is_big(account: Account, bound: int | None = None) -> bool:
    """Whether the account's requests (its writes: with `bound` BIG_FOR_WRITES) run off the event loop. Records
    are soft-deleted, so an account that became big stays big."""
    return sum(map(len, _COLLECTIONS(account))) > (BIG_ACCOUNT if bound is None else bound)


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
        with switching():
            return await asyncio.to_thread(uncollected, work, *args)


@contextmanager
def switching() -> Iterator[None]:
    """The GIL switch interval at `BUSY_SWITCH_S` while the block (on the event loop) waits for a worker thread."""
    global _busy, _idle_switch_s
    if _busy == 0:
        _idle_switch_s = sys.getswitchinterval()
        sys.setswitchinterval(BUSY_SWITCH_S)
    _busy += 1
    try:
        yield
    finally:
        _busy -= 1
        if _busy == 0:
            sys.setswitchinterval(_idle_switch_s)


def uncollected(work: Callable[..., T], *args: Any) -> T:
    """`work(*args)` with the cyclic collector paused (see `no_collection`, which settles what a big work kept).

    A big account's work makes many objects that live on (the kept renders of 100k deals); each collection of
    the oldest generation meanwhile walked all of them again, up to 0.4 s at a time, holding the GIL throughout.
    """
    with no_collection():
        return work(*args)


def bounded(handler: Handler, current_account: Callable[[], Account], write: bool = False) -> Handler:
    """`handler`, an operation on the account `current_account` names, run as `run` runs work. A `write` on a
    big account below `BIG_FOR_WRITES` records runs on the loop, after the account's other requests."""

    @functools.wraps(handler)
    async def call(**arguments: Any) -> Any:
        account = current_account()
        if not is_big(account):
            return await handler(**arguments)
        if write and not is_big(account, BIG_FOR_WRITES):
            async with lock_of(account):
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
