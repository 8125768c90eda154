"""Progress of long work (initial loads, reconciles): counts, rate and ETA.

The sync engines report to a :class:`Progress`; what the operator sees depends on where rorsync
runs: a live bar on a terminal (``rorsync.cli.progress``), periodic log lines and the systemd
``STATUS=`` otherwise (:class:`LogProgress`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol


class Progress(Protocol):
    def start(self, description: str, total: int | None = None) -> None: ...

    def set_total(self, total: int | None) -> None: ...

    def advance(self, count: int = 1) -> None: ...

    def finish(self) -> None: ...


class NullProgress:
    def start(self, description: str, total: int | None = None) -> None:
        pass

    def set_total(self, total: int | None) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass


NULL_PROGRESS: Progress = NullProgress()


def describe(description: str, done: int, total: int | None, elapsed: float) -> str:
    """``fhir full load: 120000/1500000 (8.0%), 25300/s, ETA 54s`` — one line for logs and STATUS."""
    rate = done / elapsed if elapsed > 0 else 0.0
    text = f"{description}: {done}"
    if total:
        text += f"/{total} ({100 * done / total:.1f}%)"
    text += f", {rate:.0f}/s"
    if total and rate > 0 and done < total:
        text += f", ETA {_duration((total - done) / rate)}"
    return text


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class LogProgress:
    """Logs a progress line at most every ``interval`` seconds, and passes it to ``on_status``."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        interval: float = 30.0,
        on_status: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._on_status = on_status
        self._clock = clock
        self._description = ""
        self._total: int | None = None
        self._done = 0
        self._started = self._last = 0.0

    def start(self, description: str, total: int | None = None) -> None:
        self._description, self._total, self._done = description, total, 0
        self._started = self._last = self._clock()
        self._emit()

    def set_total(self, total: int | None) -> None:
        self._total = total

    def advance(self, count: int = 1) -> None:
        self._done += count
        if self._description and self._clock() - self._last >= self._interval:
            self._emit()

    def finish(self) -> None:
        """The final line, with the real count as total (an estimate may have been shown); once."""
        if self._description:
            self._total = self._done
            self._emit()
            self._description = ""

    def _emit(self) -> None:
        self._last = self._clock()
        line = describe(self._description, self._done, self._total, self._last - self._started)
        self._logger.info("%s", line)
        if self._on_status is not None:
            self._on_status(line)
