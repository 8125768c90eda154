"""Batches of records into write transactions, with cursors committed alongside the last rows.

Sources stream records of any size (a national export is ~1.5 million objects); the writer keeps at
most one batch in memory and writes each batch in its own transaction, so a crash loses at most the
batch in flight — which the next run re-reads because its cursor did not move.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from rorsync import metrics
from rorsync.model import Record, RecordError, Source
from rorsync.store.engine import Database
from rorsync.store.state import set_cursor
from rorsync.store.upsert import ApplyCounts, WriteContext, apply_records, quarantine
from rorsync.sync.progress import NULL_PROGRESS, Progress

if TYPE_CHECKING:
    from rorsync.config import Settings
    from rorsync.sync.runs import RunHandle

Clock = Callable[[], dt.datetime]
Finalizer = Callable[[WriteContext], Awaitable[None]]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class BatchWriter:
    """Accumulate records and errors; write them ``batch_size`` at a time."""

    db: Database
    source: Source
    batch_size: int
    run_id: int | None = None
    clock: Clock = utcnow
    progress: Progress = NULL_PROGRESS
    counts: ApplyCounts = field(default_factory=ApplyCounts)
    _records: list[Record] = field(default_factory=list)
    _errors: list[RecordError] = field(default_factory=list)

    async def add(self, item: Record | RecordError) -> None:
        if isinstance(item, RecordError):
            self._errors.append(item)
        else:
            self._records.append(item)
        if len(self._records) + len(self._errors) >= self.batch_size:
            await self.flush()

    async def add_all(self, items: Iterable[Record | RecordError]) -> None:
        for item in items:
            await self.add(item)

    async def flush(self, *, cursors: dict[str, str] | None = None, finalize: Finalizer | None = None) -> None:
        """Write what is pending; ``cursors`` and ``finalize`` run in the same transaction."""
        records, errors = self._records, self._errors
        if not (records or errors or cursors or finalize):
            return
        self._records, self._errors = [], []
        async with self.db.write() as conn:
            ctx = WriteContext(conn, self.source, self.clock(), self.run_id)
            counts = await apply_records(ctx, records)
            counts.quarantined += await quarantine(ctx, errors)
            for stream, value in (cursors or {}).items():
                await set_cursor(conn, self.source, stream, value, now=ctx.seen_at, run_id=self.run_id)
            if finalize is not None:
                await finalize(ctx)
        self.counts.add(counts)
        self.progress.advance(len(records) + len(errors))


async def store_items(writer: BatchWriter, items: Iterable[Record | RecordError]) -> int:
    """Hand received objects to the writer, counting them per entity for the metrics; returns how many."""
    received: Counter[str] = Counter()
    for item in items:
        await writer.add(item)
        received[item.entity.value if isinstance(item, Record) else "unmapped"] += 1
    for entity, count in received.items():
        metrics.RECORDS_RECEIVED.labels(writer.source.value, entity).inc(count)
    return received.total()


class SourceContext:
    """What the sync steps of one source share; each source's context is a dataclass with these fields."""

    source: ClassVar[Source]
    settings: Settings
    db: Database
    clock: Clock

    def writer(self, run: RunHandle, progress: Progress = NULL_PROGRESS) -> BatchWriter:
        return run_writer(self.db, self.source, self.settings, run, clock=self.clock, progress=progress)


def run_writer(
    db: Database, source: Source, settings: Settings, run: RunHandle, *, clock: Clock, progress: Progress
) -> BatchWriter:
    """A writer whose batches count in ``run``'s journal entry."""
    return BatchWriter(
        db,
        source,
        settings.database.batch_size,
        run_id=run.id,
        clock=clock,
        progress=progress,
        counts=run.counts,
    )
