"""A live progress bar for long foreground work on a terminal (counts, rate, ETA)."""

from __future__ import annotations

import logging
import sys

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from rorsync.sync.progress import LogProgress
from rorsync.sync.progress import Progress as ProgressReporter


class TerminalProgress:
    """Implements :class:`rorsync.sync.progress.Progress` with a rich bar."""

    def __init__(self) -> None:
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[progress.data.speed]{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            transient=False,
        )
        self._task: TaskID | None = None

    def start(self, description: str, total: int | None = None) -> None:
        if self._task is None:
            self._bar.start()
            self._task = self._bar.add_task(description, total=total, rate="")
        else:
            self._bar.reset(self._task, total=total, description=description)

    def set_total(self, total: int | None) -> None:
        if self._task is not None:
            self._bar.update(self._task, total=total)

    def advance(self, count: int = 1) -> None:
        if self._task is None:
            return
        self._bar.advance(self._task, count)
        speed = self._bar.tasks[0].speed
        self._bar.update(self._task, rate=f"{speed:,.0f}/s" if speed else "")

    def finish(self) -> None:
        if self._task is not None:
            self._bar.stop()
            self._task = None


def progress_for_terminal(logger: logging.Logger) -> ProgressReporter:
    """A live bar on a terminal, periodic log lines otherwise (cron, CI, journald)."""
    return TerminalProgress() if sys.stderr.isatty() else LogProgress(logger)
