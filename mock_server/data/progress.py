"""How a long read shows its progress: a bar per resource on a terminal, one line per resource otherwise."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


class Lines:
    """One line per resource once it is complete, flushed at once (a pipe or a CI log reads it as it comes)."""

    def __enter__(self) -> Lines:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def advance(self, resource: str, count: int, total: int | None) -> None:
        return None

    def finish(self, resource: str, count: int) -> None:
        click.echo(f"  {resource}: {count} fetched")


class Bars:
    """A rich progress bar per resource, pulsing until its total is known."""

    def __init__(self) -> None:
        self.progress = Progress(TextColumn("  {task.description:<16}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), transient=False)  # fmt: skip
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> Bars:
        self.progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.progress.stop()

    def _task(self, resource: str) -> TaskID:
        if resource not in self.tasks:
            self.tasks[resource] = self.progress.add_task(resource, total=None)
        return self.tasks[resource]

    def advance(self, resource: str, count: int, total: int | None) -> None:
        self.progress.update(self._task(resource), completed=count, total=total)

    def finish(self, resource: str, count: int) -> None:
        self.progress.update(self._task(resource), completed=count, total=count)


def reporter(terminal: bool) -> Any:
    return Bars() if terminal else Lines()
