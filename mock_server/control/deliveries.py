"""Webhook delivery, off the request path: queues per subscription, retries and the ban on the tenant's clock,
delivery faults, and a log per tenant.

The real service's rules: a 2xx answer within 10 s is a success; otherwise 3 retries follow, 3 s, 30 s and 150 s
after the failure; 10 failed first attempts in a row ban the webhook for 30 minutes, and its events meanwhile are
lost. Deliveries to one subscription go one at a time in the order of the changes (a retry goes when it is due,
behind what is queued then). Every wait is on the tenant's clock: a frozen clock moved on 150 s sends the due
retries at once (moving a clock wakes the dispatcher), so nothing here polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from mock_server.control.events import Change
from mock_server.control.payloads import payload
from mock_server.control.sender import Sender
from mock_server.domain.account import Account
from mock_server.domain.clock import Clock
from mock_server.domain.collection import Record
from mock_server.domain.webhooks import canonical_action
from mock_server.errors import Invalid, NotFound
from mock_server.http import envelope
from mock_server.http.tenant import mask_token

logger = logging.getLogger("fintesk_mock")

RETRY_DELAYS = (timedelta(seconds=3), timedelta(seconds=30), timedelta(seconds=150))
BAN_AFTER = 10
BAN_FOR = timedelta(minutes=30)
MAX_PENDING = 10_000  # deliveries waiting per tenant; past it the oldest is dropped
LOG_SIZE = 1_000  # log entries kept per tenant
FAULT_KINDS = ("duplicate", "swap", "delay", "drop", "fail")
MAX_FAULT_DELAY_MS = 300_000
MAX_WAIT_S = 60.0  # the longest a control call waits for log entries


@dataclass
class Delivery:
    number: int  # the tenant's sequence: the order of the changes
    change: Change
    webhook: Record  # the subscription as it was when the change was made
    event_id: str
    correlation_id: str
    attempt: int = 1
    due: datetime | None = None
    resend: bool = False

    @property
    def event(self) -> str:
        return f"{self.change.action}.{self.change.object}"


@dataclass
class Fault:
    id: int
    kind: str
    times: int
    delay_ms: int
    webhook_id: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "times": self.times, "delay_ms": self.delay_ms,
                "webhook_id": self.webhook_id}  # fmt: skip


@dataclass
class Tenant:
    lanes: dict[int, deque[Delivery]] = field(default_factory=dict)
    tasks: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    retries: list[Delivery] = field(default_factory=list)
    held: dict[int, Delivery] = field(default_factory=dict)  # a swap fault's first delivery, by webhook
    log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOG_SIZE))
    logged: dict[int, Delivery] = field(default_factory=dict)  # the delivery of each log entry, for a resend
    failures: dict[int, int] = field(default_factory=dict)  # failed first attempts in a row, by webhook
    banned: dict[int, datetime] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    entries: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    fault_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    logged_count: int = 0
    # Set (and replaced) at each log entry: what a control call waiting for entries waits on.
    signal: asyncio.Event = field(default_factory=asyncio.Event)

    def pending(self) -> int:
        return sum(map(len, self.lanes.values())) + len(self.retries) + len(self.held)


class Deliveries:
    """Every tenant's webhook deliveries; `clock_of(token)` is the clock a tenant's retries and ban run on."""

    def __init__(self, clock_of: Callable[[str], Clock], hosts: tuple[str, ...] = ()) -> None:
        self.clock_of = clock_of
        self.sender = Sender(hosts)
        self.max_pending = MAX_PENDING
        self._tenants: dict[str, Tenant] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._scheduler: asyncio.Task[None] | None = None

    # --- on a request's path (the event loop, or a big account's worker thread) --------------------------------

    def wanted(self, _token: str, account: Account, event_object: str, _action: str) -> bool:
        """Whether a change of `event_object` may go anywhere: a cheap test before anything is read."""
        return any(webhook["event_object"] in ("*", event_object) for webhook in account.webhooks.records.values())

    def submit(self, token: str, account: Account, changes: list[Change]) -> None:
        """Queue the deliveries of `changes` (made on `account` just now); returns at once."""
        items = [(change, dict(webhook)) for change in changes for webhook in _targets(account, change)]
        if not items:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # a worker thread: the loop takes them in order
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._accept, token, items)
            else:
                logger.warning("webhook deliveries lost: no event loop to send them from")
            return
        self._accept(token, items)

    def note_server(self, server: Any) -> None:
        self.sender.note_server(server)

    # --- on the event loop ---------------------------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._scheduler is not None and self._loop is loop:
            return
        # The first start, or a new event loop (the app served again, or without its lifespan): what ran on the old
        # loop is gone, so queued deliveries start again here. Deliveries go on only while a loop runs: an app must
        # be served with its lifespan (uvicorn, or a test client in a `with` block) for them to finish.
        self._loop = loop
        self._wake = asyncio.Event()
        self.sender.open()
        self._scheduler = loop.create_task(self._schedule(), name="webhook-retries")
        for token, tenant in self._tenants.items():
            tenant.tasks.clear()
            for webhook_id, lane in tenant.lanes.items():
                if lane:
                    tenant.tasks[webhook_id] = loop.create_task(self._drain(token, tenant, webhook_id))

    async def close(self) -> None:
        """Stop at once: deliveries under way are cancelled, none is waited for."""
        tasks = [task for tenant in self._tenants.values() for task in tenant.tasks.values()]
        if self._scheduler is not None:
            tasks.append(self._scheduler)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tenants.clear()
        self._scheduler = None
        await self.sender.close()

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Any) -> AsyncIterator[None]:
        self.start()
        try:
            yield
        finally:
            await self.close()

    def wake(self) -> None:
        """A clock moved: retries may be due now (safe from any thread; nothing to do before the first delivery, or
        once the loop the deliveries ran on is gone)."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            wake.set()
        else:
            loop.call_soon_threadsafe(wake.set)

    def forget(self, token: str | None) -> None:
        """Drop a tenant's pending deliveries, faults and log (every tenant's without a token)."""
        tenants = list(self._tenants.values()) if token is None else [self._tenants.get(token)]
        for tenant in tenants:
            for task in tenant.tasks.values() if tenant else ():
                task.cancel()
        if token is None:
            self._tenants.clear()
        else:
            self._tenants.pop(token, None)

    def _accept(self, token: str, items: list[tuple[Change, Record]]) -> None:
        self.start()
        tenant = self._tenants.setdefault(token, Tenant())
        correlations: dict[int, str] = {}
        for change, webhook in items:
            number = next(tenant.numbers)
            correlation = correlations.setdefault(id(change), _uuid(token, "change", number))
            self._enqueue(token, tenant, Delivery(number, change, webhook, _uuid(token, "event", number), correlation))

    def _enqueue(self, token: str, tenant: Tenant, delivery: Delivery) -> None:
        webhook_id = delivery.webhook["id"]
        if delivery.attempt == 1 and not delivery.resend:
            if self._banned(token, tenant, delivery):
                return
            swap = None if webhook_id in tenant.held else _take_fault(tenant, webhook_id, ("swap",))
            if swap is not None:
                tenant.held[webhook_id] = delivery
                self._log(token, tenant, delivery, "held", reason="fault: swap (sent after the next delivery)")
                return
        lane = tenant.lanes.setdefault(webhook_id, deque())
        lane.append(delivery)
        held = tenant.held.pop(webhook_id, None) if delivery.attempt == 1 and not delivery.resend else None
        if held is not None:
            lane.append(held)
        self._bound(token, tenant)
        if webhook_id not in tenant.tasks:
            assert self._loop is not None
            tenant.tasks[webhook_id] = self._loop.create_task(self._drain(token, tenant, webhook_id))

    def _bound(self, token: str, tenant: Tenant) -> None:
        """At most `max_pending` deliveries wait per tenant: the oldest go (and are logged as dropped)."""
        while tenant.pending() > self.max_pending:
            heads = [lane[0] for lane in tenant.lanes.values() if lane] + tenant.retries
            oldest = min(heads, key=lambda delivery: delivery.number)
            if oldest in tenant.retries:
                tenant.retries.remove(oldest)
            else:
                tenant.lanes[oldest.webhook["id"]].popleft()
            logger.warning("webhook delivery dropped: tenant %s has more than %d pending", mask_token(token),
                           self.max_pending)  # fmt: skip
            self._log(token, tenant, oldest, "dropped", reason=f"more than {self.max_pending} deliveries pending")

    async def _drain(self, token: str, tenant: Tenant, webhook_id: int) -> None:
        """Send a subscription's queued deliveries one after another, until none is left."""
        lane = tenant.lanes[webhook_id]
        try:
            while lane:
                await self._attempt(token, tenant, lane.popleft())
        finally:
            tenant.tasks.pop(webhook_id, None)

    async def _attempt(self, token: str, tenant: Tenant, delivery: Delivery) -> None:
        if delivery.resend:
            status, answer, reason = await self._send(delivery)
            self._log(token, tenant, delivery, _outcome(status), status, answer, reason)
            return
        if self._banned(token, tenant, delivery):
            return
        fault = _take_fault(tenant, delivery.webhook["id"], ("drop", "fail", "delay", "duplicate"))
        if fault is not None and fault.kind == "drop":
            self._log(token, tenant, delivery, "dropped", reason="fault: drop")
            return
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.delay_ms / 1000)
        if fault is not None and fault.kind == "fail":
            status, answer, reason = None, "", "fault: fail"
        else:
            status, answer, reason = await self._send(delivery)
        outcome = _outcome(status)
        self._log(token, tenant, delivery, outcome, status, answer, reason)
        if fault is not None and fault.kind == "duplicate":
            again = await self._send(delivery)
            self._log(token, tenant, delivery, _outcome(again[0]), *again, duplicate=True)
        self._settle(token, tenant, delivery, outcome == "delivered", refused=reason.startswith("refused"))

    def _settle(self, token: str, tenant: Tenant, delivery: Delivery, delivered: bool, refused: bool) -> None:
        """Count a first attempt toward the ban, and schedule the next attempt of a failed one."""
        webhook_id = delivery.webhook["id"]
        now = self.clock_of(token).now()
        if delivery.attempt == 1:
            failures = 0 if delivered else tenant.failures.get(webhook_id, 0) + 1
            tenant.failures[webhook_id] = failures
            if failures >= BAN_AFTER:
                tenant.banned[webhook_id] = now + BAN_FOR
                tenant.failures[webhook_id] = 0
                # Its pending retries would all fall within the ban (the last comes 150 s after its failure).
                for retry in [retry for retry in tenant.retries if retry.webhook["id"] == webhook_id]:
                    tenant.retries.remove(retry)
                    self._banned(token, tenant, retry)
                logger.warning("webhook %s of tenant %s banned for 30 minutes after %d failed deliveries",
                               webhook_id, mask_token(token), BAN_AFTER)  # fmt: skip
                return  # and this one is not retried either
        if delivered or refused or delivery.attempt > len(RETRY_DELAYS):
            return
        tenant.retries.append(
            replace(delivery, attempt=delivery.attempt + 1, due=now + RETRY_DELAYS[delivery.attempt - 1])
        )
        self._bound(token, tenant)
        self.wake()

    def _banned(self, token: str, tenant: Tenant, delivery: Delivery) -> bool:
        until = tenant.banned.get(delivery.webhook["id"])
        if until is None:
            return False
        clock = self.clock_of(token)
        if clock.now() >= until:
            del tenant.banned[delivery.webhook["id"]]
            return False
        self._log(token, tenant, delivery, "lost", reason=f"webhook banned until {until:%Y-%m-%d %H:%M:%S}")
        return True

    async def _send(self, delivery: Delivery) -> tuple[int | None, str, str]:
        """POST the delivery: (status or None, an excerpt of the answer, why it failed or "")."""
        webhook = delivery.webhook
        body = envelope.encode(payload(delivery.change, webhook, delivery.attempt, delivery.event_id,
                                       delivery.correlation_id))  # fmt: skip
        return await self.sender.post(webhook["subscription_url"], body, webhook.get("http_auth_user"),
                                      webhook.get("http_auth_password"))  # fmt: skip

    def _log(
        self, token: str, tenant: Tenant, delivery: Delivery, outcome: str, status: int | None = None,
        answer: str = "", reason: str = "", *, duplicate: bool = False,
    ) -> None:  # fmt: skip
        entry = next(tenant.entries)
        tenant.log.append({
            "id": entry, "delivery": delivery.number, "event": delivery.event, "event_id": delivery.event_id,
            "record_id": delivery.change.record_id, "webhook_id": delivery.webhook["id"],
            "url": delivery.webhook["subscription_url"], "version": delivery.webhook["version"],
            "attempt": delivery.attempt, "outcome": outcome, "status": status,
            "time": self.clock_of(token).stamp(), "answer": answer, "reason": reason,
            "duplicate": duplicate, "resent": delivery.resend,
        })  # fmt: skip
        tenant.logged[entry] = delivery
        if len(tenant.logged) > LOG_SIZE:
            del tenant.logged[next(iter(tenant.logged))]
        tenant.logged_count += 1
        tenant.signal.set()
        tenant.signal = asyncio.Event()

    async def _schedule(self) -> None:
        """Move due retries to their queues; sleep until the next is due on a running clock, or until woken."""
        assert self._wake is not None
        while True:
            self._wake.clear()
            wait: float | None = None
            for token, tenant in list(self._tenants.items()):
                clock = self.clock_of(token)
                now = clock.now()
                due = sorted((retry for retry in tenant.retries if retry.due and retry.due <= now),
                             key=lambda retry: (retry.due, retry.number))  # fmt: skip
                for retry in due:
                    tenant.retries.remove(retry)
                    self._enqueue(token, tenant, retry)
                later = [retry.due for retry in tenant.retries if retry.due]
                if later and not clock.frozen:
                    seconds = max((min(later) - now).total_seconds(), 0.05)
                    wait = seconds if wait is None else min(wait, seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    # --- the control plane -------------------------------------------------------------------------------------

    async def entries(self, token: str, limit: int | None = None, wait_for: int | None = None) -> list[dict[str, Any]]:
        """The tenant's log; with `wait_for`, once it holds that many entries in all (or after `MAX_WAIT_S`)."""
        if wait_for:
            deadline = asyncio.get_running_loop().time() + MAX_WAIT_S
            waiting = self._tenants.setdefault(token, Tenant())
            while waiting.logged_count < wait_for and self._tenants.get(token) is waiting:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiting.signal.wait(), timeout=left)
        tenant = self._tenants.get(token)
        log = list(tenant.log) if tenant else []
        return log[-limit:] if limit else log

    def resend(self, token: str, entry_id: int) -> dict[str, Any]:
        """Send a logged delivery again, as it was sent (behind what its subscription has queued)."""
        tenant = self._tenants.get(token)
        delivery = tenant.logged.get(entry_id) if tenant else None
        if tenant is None or delivery is None:
            raise NotFound(f"id: no delivery {entry_id} in the tenant's log.")
        again = replace(delivery, resend=True)
        self._enqueue(token, tenant, again)
        return {"resending": entry_id, "event": again.event, "webhook_id": again.webhook["id"]}

    def add_fault(self, token: str, spec: dict[str, Any]) -> dict[str, Any]:
        kind = spec.get("kind")
        if kind not in FAULT_KINDS:
            raise Invalid(f"kind: give one of {', '.join(FAULT_KINDS)}.")
        delay_ms = spec.get("delay_ms", 0 if kind != "delay" else None)
        if kind == "delay" and not (isinstance(delay_ms, int) and 0 <= delay_ms <= MAX_FAULT_DELAY_MS):
            raise Invalid(f"delay_ms: a delay fault needs a whole number of milliseconds up to {MAX_FAULT_DELAY_MS}.")
        tenant = self._tenants.setdefault(token, Tenant())
        times = spec.get("times", 1)
        fault = Fault(next(tenant.fault_ids), kind, times if kind != "swap" else 1, delay_ms or 0,
                      spec.get("webhook_id"))  # fmt: skip
        tenant.faults.append(fault)
        return fault.to_dict()

    def faults(self, token: str) -> list[dict[str, Any]]:
        tenant = self._tenants.get(token)
        return [fault.to_dict() for fault in tenant.faults] if tenant else []

    def clear_faults(self, token: str) -> None:
        tenant = self._tenants.get(token)
        if tenant is None:
            return
        tenant.faults.clear()
        for webhook_id, held in list(tenant.held.items()):  # a swap that waits for a second delivery waits no more
            del tenant.held[webhook_id]
            self._enqueue(token, tenant, held)


def _targets(account: Account, change: Change) -> list[Record]:
    """The account's subscriptions that `change` goes to (version 2 knows no merge: it is a change there)."""
    found = []
    for webhook in account.webhooks.records.values():
        action = change.action if webhook["version"] == "1.0" or change.action != "merged" else "updated"
        if webhook["event_object"] in ("*", change.object) and canonical_action(webhook["event_action"]) in (
            "*",
            action,
        ):
            found.append(webhook)
    return found


def _take_fault(tenant: Tenant, webhook_id: int, kinds: tuple[str, ...]) -> Fault | None:
    for fault in tenant.faults:
        if fault.kind in kinds and fault.webhook_id in (None, webhook_id):
            fault.times -= 1
            if fault.times <= 0:
                tenant.faults.remove(fault)
            return fault
    return None


def _outcome(status: int | None) -> str:
    return "delivered" if status is not None and 200 <= status < 300 else "failed"


def _uuid(token: str, kind: str, number: int) -> str:
    """A stable id: the same tenant and sequence number give the same id in every run."""
    digest = hashlib.sha256(f"{token}\0{kind}\0{number}".encode("utf-8", "surrogatepass")).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))
