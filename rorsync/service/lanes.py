"""Lanes: one coordinator per kind of work of a source, after Home Assistant's update coordinator.

A lane runs at most one piece of work at a time. Work submitted while the lane is busy joins the
running work instead of starting a second run: that is how a scheduled poll and a manual resync of
the same kind merge, in either order, into one run. Each run gets its own timeout, and its outcome
is read from the run journal (:func:`rorsync.sync.runs.observe_runs`), so "partial" is known too.

Logging is edge-triggered: the first failure is logged as an error with the journal's text,
further failures only count, and the first success afterwards logs "recovered" once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from rorsync.logs import fields
from rorsync.model import Source
from rorsync.store.state import RunStatus
from rorsync.sync.engine import ResyncRequest
from rorsync.sync.progress import NULL_PROGRESS, LogProgress, Progress
from rorsync.sync.runs import describe_error, observe_runs
from rorsync.sync.writer import Clock, utcnow

logger = logging.getLogger("rorsync.service")

Work = Callable[[Progress], Awaitable[None]]
StatusSink = Callable[[str, str | None], None]  # (lane key, progress line or None when done)
LineSink = Callable[[str | None], None]

FULL_KINDS = frozenset({"full", "reconcile"})
DELTA_KINDS = frozenset({"delta"})
_SEVERITY = {RunStatus.OK: 0, RunStatus.PARTIAL: 1, RunStatus.INTERRUPTED: 2, RunStatus.FAILED: 3}


def lane_key(source: Source, kind: str, name: str) -> str:
    """The lane of a scheduled job: complete reloads share one lane per source, so do change polls."""
    if kind in FULL_KINDS:
        return f"{source.value}:full"
    if kind in DELTA_KINDS:
        return f"{source.value}:delta"
    return name


def request_lane_key(source: Source, request: ResyncRequest) -> str:
    """The lane serving a manual request: the scheduled job's lane when the request is equivalent."""
    if request.organization:
        return f"{source.value}:organization:{request.organization}"
    if request.resource:
        return f"{source.value}:resource:{request.resource}"
    return lane_key(source, "full" if request.full else "delta", "")


def log_progress(on_status: LineSink) -> Progress:
    """Long work outside a terminal: a progress line in the log every 30 s, and in systemd's STATUS."""
    return LogProgress(logger, interval=30.0, on_status=on_status)


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # a final RunStatus
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status in (RunStatus.OK, RunStatus.PARTIAL)


def worst(outcomes: Iterable[Outcome]) -> Outcome:
    """The outcome of work made of several runs: the most severe status, with every error."""
    outcomes = list(outcomes)
    if not outcomes:
        return Outcome(RunStatus.OK)
    status = max((o.status for o in outcomes), key=lambda s: _SEVERITY.get(s, 3))
    errors = [o.error for o in outcomes if o.error]
    return Outcome(status, "; ".join(dict.fromkeys(errors)) or None)


class Lane:
    def __init__(
        self,
        key: str,
        source: Source | None,
        *,
        on_status: StatusSink | None = None,
        progress: Callable[[LineSink], Progress] | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.key = key
        self.source = source
        self.consecutive_failures = 0
        self.failing_since: dt.datetime | None = None
        self.last_success: dt.datetime | None = None
        self.last_outcome: Outcome | None = None
        self.running: str | None = None  # what runs now
        self._state = RunStatus.OK
        self._task: asyncio.Task[Outcome] | None = None
        self._on_status = on_status
        self._progress = progress or log_progress
        self._clock = clock

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def submit(self, work: Work, *, timeout: dt.timedelta, description: str, long: bool = False) -> Awaitable[Outcome]:
        """Start ``work``, or join the work already running; await the result for its outcome.

        Starting happens synchronously, so two submissions in the same tick share one run. A
        cancelled waiter does not cancel the run (only :meth:`cancel` does).
        """
        if not self.busy:
            self._task = asyncio.create_task(self._execute(work, timeout, description, long), name=self.key)
        assert self._task is not None
        return asyncio.shield(self._task)

    async def idle(self) -> None:
        """Wait until the running work (if any) has ended, whatever its outcome."""
        if self._task is not None:
            await asyncio.wait([self._task])

    def cancel(self) -> asyncio.Task[Outcome] | None:
        """Cancel the running work (shutdown); the returned task ends once the journal is written."""
        if self._task is None or self._task.done():
            return None
        self._task.cancel()
        return self._task

    async def _execute(self, work: Work, time_limit: dt.timedelta, description: str, long: bool) -> Outcome:
        self.running = description
        progress = self._progress(self._status) if long else NULL_PROGRESS
        deadline = asyncio.timeout(time_limit.total_seconds())
        try:
            with observe_runs() as runs:
                async with deadline:
                    await work(progress)
        except Exception as error:
            if isinstance(error, TimeoutError) and deadline.expired():
                outcome = Outcome(RunStatus.INTERRUPTED, f"timed out after {time_limit} (per-run timeout)")
            else:
                outcome = Outcome(RunStatus.FAILED, describe_error(error))
        else:
            outcome = worst(Outcome(run.status, run.error) for run in runs)
        finally:
            self.running = None
            self._status(None)
        self._record(outcome)
        return outcome

    def _status(self, line: str | None) -> None:
        if self._on_status is not None:
            self._on_status(self.key, line)

    def _record(self, outcome: Outcome) -> None:
        now = self._clock()
        self.last_outcome = outcome
        context = fields(lane=self.key, source=self.source and self.source.value, status=outcome.status)
        if not outcome.succeeded:
            self.consecutive_failures += 1
            if self.consecutive_failures == 1:
                self.failing_since = now
                logger.error("%s failing: %s", self.key, outcome.error, extra=context)
            else:
                logger.debug("%s still failing (%d runs)", self.key, self.consecutive_failures, extra=context)
            self._state = RunStatus.FAILED
            return
        if self.consecutive_failures:
            logger.info("%s recovered after %d failed runs", self.key, self.consecutive_failures, extra=context)
        elif outcome.status == RunStatus.PARTIAL and self._state != RunStatus.PARTIAL:
            logger.warning("%s finished with object failures: %s", self.key, outcome.error, extra=context)
        self.consecutive_failures = 0
        self.failing_since = None
        self.last_success = now
        self._state = outcome.status
