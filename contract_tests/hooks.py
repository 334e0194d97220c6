"""Schemathesis hooks of `fintesk-mock check`: Fintesk checks, pacing, cleanup bookkeeping, a per-operation table."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from typing import Any

import click
import schemathesis
from schemathesis.cli import EventHandler, handler
from schemathesis.engine import Status, events

import contract_tests.checks  # noqa: F401  (registers the Fintesk checks)
import contract_tests.lists  # noqa: F401

CREATES = {"addDeal", "addActivity", "addActivityType", "addDealField", "addDealProduct", "addFilter"}


class Pacer:
    """Waits out 429s and an exhausted rate-limit window before the next request."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.resume_at = 0.0

    def wait(self) -> None:
        delay = self.resume_at - time.monotonic()
        if delay > 0:
            time.sleep(min(delay, 60))

    def observe(self, status: int, headers: Any) -> None:
        remaining, reset = _header_int(headers, "x-ratelimit-remaining"), _header_int(headers, "x-ratelimit-reset")
        retry_after = _header_int(headers, "retry-after")
        pause = None
        if status == 429:
            pause = retry_after if retry_after is not None else (reset if reset is not None else 2)
        elif remaining == 0 and reset is not None:
            pause = reset
        if pause is not None:
            with self.lock:
                self.resume_at = max(self.resume_at, time.monotonic() + pause)


def _header_int(headers: Any, name: str) -> int | None:
    value = headers.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


PACER = Pacer()
_created_lock = threading.Lock()


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: Any, kwargs: dict[str, Any]) -> None:
    PACER.wait()


@schemathesis.hook
def after_call(context: schemathesis.HookContext, case: Any, response: Any) -> None:
    PACER.observe(response.status_code, response.headers)
    record_created(case, response)


def record_created(case: Any, response: Any) -> None:
    """Note every record a run creates, so the runner can delete them when it ends."""
    path = os.environ.get("FINTESK_CHECK_CREATED")
    operation_id = case.operation.definition.raw.get("operationId")
    if not path or operation_id not in CREATES or not 200 <= response.status_code < 300:
        return
    try:
        record_id = response.json()["data"]["id"]
    except (ValueError, KeyError, TypeError):
        return
    entry = {"operation": operation_id, "id": record_id, "deal_id": (case.path_parameters or {}).get("id")}
    with _created_lock, open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")


@handler()
class OperationTable(EventHandler):  # type: ignore[type-arg]
    """After Schemathesis' own summary: requests sent and checks failed, per operation."""

    def __init__(self, *args: Any, **params: Any) -> None:
        self.requests: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()

    def handle_event(self, ctx: Any, event: events.EngineEvent) -> None:
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            for case_id in recorder.interactions:
                self.requests[self._label(recorder, case_id, event.label)] += 1
            for case_id, checks in recorder.checks.items():
                failed = sum(1 for check in checks if check.status == Status.FAILURE)
                if failed:
                    self.failed[self._label(recorder, case_id, event.label)] += failed
        elif isinstance(event, events.EngineFinished):
            self.print_table()

    @staticmethod
    def _label(recorder: Any, case_id: str, fallback: str | None) -> str:
        node = recorder.cases.get(case_id)
        return str(node.value.operation.label) if node is not None else str(fallback)

    def print_table(self) -> None:
        operations = sorted(set(self.requests) | set(self.failed))
        if not operations:
            return
        width = max(len(operation) for operation in operations)
        click.echo("")
        click.secho("Fintesk contract: requests and failed checks per operation", bold=True)
        click.echo(f"  {'operation'.ljust(width)}  {'requests':>8}  {'failed':>6}")
        for operation in operations:
            failed = self.failed[operation]
            line = f"  {operation.ljust(width)}  {self.requests[operation]:>8}  {failed:>6}"
            click.secho(line, fg="red" if failed else None)
        click.echo(f"  {'total'.ljust(width)}  {sum(self.requests.values()):>8}  {sum(self.failed.values()):>6}")
