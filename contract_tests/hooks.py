"""Schemathesis hooks of `fintesk-mock check`: Fintesk checks, pacing, cleanup bookkeeping, output for logs."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from typing import Any

import click
import schemathesis
from schemathesis.cli import EventHandler, handler
from schemathesis.engine import Status, events
from schemathesis.engine.run import PhaseName

import contract_tests.checks  # noqa: F401  (registers the Fintesk checks)
import contract_tests.lists  # noqa: F401
from contract_tests.reproduce import mend

CREATES = {"addDeal", "addActivity", "addActivityType", "addDealField", "addDealProduct", "addFilter", "addPipeline",
           "addStage", "addProduct", "addProductField", "addNote", "addPerson", "addOrganization", "addPersonField",
           "addOrganizationField"}  # fmt: skip


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
    """Fintesk output around Schemathesis' own: a line per operation as it finishes when the output is a log (not
    a terminal), the table of requests and failed checks per operation, and reproductions that run as printed."""

    def __init__(self, *args: Any, **params: Any) -> None:
        self.requests: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.log_lines = not sys.stdout.isatty()
        self.stateful = Counter[str]()
        self.phase_started: dict[str, float] = {}
        # case id -> (headers, URL) as sent, to put back what the reproductions mask
        self.sent: dict[str, tuple[dict[str, str], str]] = {}

    def handle_event(self, ctx: Any, event: events.EngineEvent) -> None:
        if isinstance(event, events.PhaseStarted):
            self.phase_started[str(event.phase.name)] = event.timestamp
        elif isinstance(event, events.ScenarioFinished):
            self.on_scenario(event)
        elif isinstance(event, events.PhaseFinished) and event.phase.name == PhaseName.STATEFUL_TESTING:
            self.on_stateful_finished(event)
        elif isinstance(event, events.EngineFinished):
            self.print_table()
            self.mend_reproductions(ctx)

    def on_scenario(self, event: events.ScenarioFinished) -> None:
        recorder = event.recorder
        failed = 0
        for case_id, interaction in recorder.interactions.items():
            self.requests[self._label(recorder, case_id, event.label)] += 1
            request = interaction.request
            self.sent[case_id] = ({name: values[0] for name, values in request.headers.items() if values}, request.uri)
        for case_id, checks in recorder.checks.items():
            count = sum(1 for check in checks if check.status == Status.FAILURE)
            self.failed[self._label(recorder, case_id, event.label)] += count
            failed += count
        if event.phase == PhaseName.STATEFUL_TESTING:
            self.stateful.update(scenarios=1, cases=len(recorder.cases), failures=failed)
        elif self.log_lines and event.label and event.status != Status.SKIP:
            cases = pluralize(len(recorder.cases), "case")
            line = f"{event.phase.value:<9} {event.label}: {cases}, {pluralize(failed, 'failure')}, "
            click.echo(line + f"{event.elapsed_time:.1f}s")

    def on_stateful_finished(self, event: events.PhaseFinished) -> None:
        if not self.log_lines or not self.stateful["scenarios"]:
            return
        seconds = event.timestamp - self.phase_started.get(str(event.phase.name), event.timestamp)
        counts = self.stateful
        click.echo(
            f"{'stateful':<9} {pluralize(counts['scenarios'], 'scenario')}: {pluralize(counts['cases'], 'case')}, "
            f"{pluralize(counts['failures'], 'failure')}, {seconds:.1f}s"
        )

    def mend_reproductions(self, ctx: Any) -> None:
        """Runs before Schemathesis prints its failures, so they show the commands with the token put back."""
        token = os.environ.get("FINTESK_CHECK_TOKEN", "")
        for groups in ctx.statistic.failures.values():
            for group in groups.values():
                if group.code_sample and group.case_id in self.sent:
                    group.code_sample = mend(group.code_sample, *self.sent[group.case_id], token)
                for step in group.steps:
                    if step.case_id in self.sent:
                        step.curl = mend(step.curl, *self.sent[step.case_id], token)

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


def pluralize(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
