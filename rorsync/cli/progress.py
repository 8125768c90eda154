"""Progress on a terminal: one live bar per piece of work, with counts, rate and ETA.

Every lane of a command shares one rich live display (rich allows a single one at a time).
"""

from __future__ import annotations

import logging
import sys
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.progress import Task as RichTask
from rich.text import Text

from rorsync.service.lanes import LineSink
from rorsync.sync.progress import LogProgress, Progress


class _RateColumn(ProgressColumn):
    def render(self, task: RichTask) -> Text:
        return Text(f"{task.speed:.0f}/s" if task.speed else "")


class TerminalProgress:
    """Context manager owning the live display; :meth:`for_lane` is a lane's progress factory."""

    def __init__(self, console: Console | None = None) -> None:
        self._display = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            _RateColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
        )

    @property
    def display(self) -> RichProgress:
        return self._display

    def __enter__(self) -> TerminalProgress:
        self._display.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._display.stop()

    def for_lane(self, _: LineSink) -> Progress:
        return _Bar(self._display)


class _Bar:
    def __init__(self, display: RichProgress) -> None:
        self._display = display
        self._task: TaskID | None = None

    def start(self, description: str, total: int | None = None) -> None:
        if self._task is None:
            self._task = self._display.add_task(description, total=total)
        else:
            self._display.reset(self._task, description=description, total=total)

    def set_total(self, total: int | None) -> None:
        if self._task is not None:
            self._display.update(self._task, total=total)

    def advance(self, count: int = 1) -> None:
        if self._task is not None:
            self._display.advance(self._task, count)

    def finish(self) -> None:
        if self._task is not None:
            self._display.stop_task(self._task)


class _OwnBar(_Bar):
    """A single bar that owns its display: started with the work, stopped when it finishes."""

    def start(self, description: str, total: int | None = None) -> None:
        if self._task is None:
            self._display.start()
        super().start(description, total)

    def finish(self) -> None:
        super().finish()
        self._display.stop()


def progress_for_terminal(logger: logging.Logger) -> Progress:
    """One command's progress: a live bar on a terminal, periodic log lines otherwise (cron, journald)."""
    if sys.stderr.isatty():
        return _OwnBar(TerminalProgress().display)
    return LogProgress(logger)
