"""One journal entry per sync run, whatever happens to the run.

Every run (full load, delta, capacity poll, reconcile, resync, import) goes through
:func:`journaled_run`: it records the start, and on exit the status (ok, partial, failed,
interrupted), the counts and a clear error, so that ``rorsync status``, the health endpoint and an
operator reading the journal all see the same outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from rorsync import metrics
from rorsync.model import Source
from rorsync.store.engine import Database
from rorsync.store.state import RunStatus, finish_run, start_run
from rorsync.store.upsert import ApplyCounts
from rorsync.sync.writer import Clock, utcnow


@dataclass
class RunHandle:
    id: int
    counts: ApplyCounts = field(default_factory=ApplyCounts)
    extra: dict[str, int] = field(default_factory=dict)  # e.g. tombstoned, pages, files
    failures: list[str] = field(default_factory=list)  # per-object failures that did not stop the run

    def summary(self) -> dict[str, int]:
        return {**self.counts.as_dict(), **{k: v for k, v in self.extra.items() if v}}


@dataclass(frozen=True, slots=True)
class RunOutcome:
    run_id: int
    status: str
    error: str | None


_observed: ContextVar[list[RunOutcome] | None] = ContextVar("rorsync_observed_runs", default=None)


@contextmanager
def observe_runs() -> Iterator[list[RunOutcome]]:
    """Collect the outcome of every run journaled inside this context (and the tasks it starts).

    Engines journal their own runs; whoever drives them (the service, ``rorsync resync``) learns
    through this whether the work ended ok, partial or failed without knowing the run ids.
    """
    outcomes: list[RunOutcome] = []
    token = _observed.set(outcomes)
    try:
        yield outcomes
    finally:
        _observed.reset(token)


def describe_error(error: BaseException) -> str:
    """The message an operator reads in the journal: the error's own words, typed."""
    text = str(error) or repr(error)
    return f"{type(error).__name__}: {text}"


_CANCELLED = "cancelled (per-run timeout or shutdown)"


@asynccontextmanager
async def journaled_run(
    db: Database, source: Source, kind: str, *, scope: str | None = None, clock: Clock = utcnow
) -> AsyncIterator[RunHandle]:
    started = clock()

    async def finish(run: RunHandle, status: str, error: str | None) -> None:
        ended = clock()
        await finish_run(db, run.id, status=status, now=ended, counts=run.summary(), error=error)
        metrics.RUN_SECONDS.labels(source.value, kind, status).observe((ended - started).total_seconds())
        if status == RunStatus.OK:
            metrics.LAST_SUCCESS.labels(source.value, kind).set(ended.timestamp())
        if (observed := _observed.get()) is not None:
            observed.append(RunOutcome(run.id, status, error))

    # The journal writes are shielded: a cancellation arriving while one is in flight (a shutdown
    # racing the start or the end of a run) must not leave the run "running" forever.
    starting = asyncio.ensure_future(start_run(db, source, kind, scope=scope, now=started))
    try:
        run = RunHandle(await asyncio.shield(starting))
    except asyncio.CancelledError:
        await asyncio.shield(finish(RunHandle(await starting), RunStatus.INTERRUPTED, _CANCELLED))
        raise
    try:
        yield run
    except asyncio.CancelledError:
        await asyncio.shield(finish(run, RunStatus.INTERRUPTED, _CANCELLED))
        raise
    except Exception as error:
        await asyncio.shield(finish(run, RunStatus.FAILED, describe_error(error)))
        raise
    await asyncio.shield(finish(run, RunStatus.PARTIAL if run.failures else RunStatus.OK, _failures(run.failures)))


def _failures(failures: list[str], shown: int = 20) -> str | None:
    if not failures:
        return None
    more = len(failures) - shown
    return "; ".join(failures[:shown]) + (f" (+{more} more)" if more > 0 else "")
