"""Batch writing, cursor commits, the run journal and progress lines."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import func, select

from rorsync.model import RecordError, Source
from rorsync.store import schema
from rorsync.store.engine import Database
from rorsync.store.state import get_cursor
from rorsync.store.upsert import WriteContext
from rorsync.sync.progress import LogProgress, describe
from rorsync.sync.runs import journaled_run
from rorsync.sync.writer import BatchWriter
from tests import factories as f


async def count(db: Database, table: object) -> int:
    async with db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


async def test_writer_flushes_by_batch_and_commits_the_cursor_with_the_last_rows(database: Database) -> None:
    writer = BatchWriter(database, Source.FHIR, batch_size=3)
    for i in range(7):
        await writer.add(f.organization(f"o{i}"))
    assert await count(database, schema.organization) == 6  # two full batches written
    await writer.add(RecordError("Organization/bad", "meta.lastUpdated is missing", b'{"id":"bad"}'))
    await writer.flush(cursors={"delta:Organization": "2026-01-01T00:00:00Z"})
    assert await count(database, schema.organization) == 7
    async with database.read() as conn:
        assert await get_cursor(conn, Source.FHIR, "delta:Organization") == "2026-01-01T00:00:00Z"
        kept = (await conn.execute(select(schema.quarantine.c.error, schema.quarantine.c.payload))).one()
    assert kept.error == "Organization/bad: meta.lastUpdated is missing" and kept.payload == b'{"id":"bad"}'
    assert (writer.counts.inserted, writer.counts.quarantined) == (7, 1)


async def test_a_failing_finalizer_rolls_back_the_last_batch_and_the_cursor(database: Database) -> None:
    writer = BatchWriter(database, Source.FHIR, batch_size=100)
    await writer.add(f.organization("o1"))

    async def explode(ctx: WriteContext) -> None:
        raise RuntimeError("sweep failed")

    with pytest.raises(RuntimeError):
        await writer.flush(cursors={"delta:Organization": "x"}, finalize=explode)
    assert await count(database, schema.organization) == 0
    assert await count(database, schema.sync_cursor) == 0


async def test_the_journal_records_every_outcome(database: Database) -> None:
    async with journaled_run(database, Source.FHIR, "delta") as run:
        run.extra["pages"] = 2
    async with journaled_run(database, Source.CSD, "delta") as run:
        run.failures.append("EG 1830000002: error 444 Non prévu sur la plateforme")
    with pytest.raises(ValueError, match="bad page"):
        async with journaled_run(database, Source.FHIR, "full"):
            raise ValueError("bad page")

    async def hang() -> None:
        async with journaled_run(database, Source.FHIR, "capacity"):
            await asyncio.sleep(60)

    task = asyncio.create_task(hang())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with database.read() as conn:
        runs = list(await conn.execute(select(schema.sync_run).order_by(schema.sync_run.c.id)))
    assert [(r.kind, r.status) for r in runs] == [
        ("delta", "ok"),
        ("delta", "partial"),
        ("full", "failed"),
        ("capacity", "interrupted"),
    ]
    assert runs[0].counts == '{"pages":2}'
    assert runs[1].error == "EG 1830000002: error 444 Non prévu sur la plateforme"
    assert runs[2].error == "ValueError: bad page"
    assert all(r.ended_at is not None for r in runs)


def test_progress_lines_give_counts_rate_and_eta(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    statuses: list[str] = []
    progress = LogProgress(logging.getLogger("t"), interval=10, on_status=statuses.append, clock=lambda: now[0])
    with caplog.at_level(logging.INFO):
        progress.start("fhir full load", total=1000)
        now[0] = 5.0
        progress.advance(100)  # within the interval: silent
        now[0] = 10.0
        progress.advance(100)
        progress.finish()
        progress.finish()  # a second finish (engine, then command) adds nothing
    assert statuses[1:] == ["fhir full load: 200/1000 (20.0%), 20/s, ETA 40s", "fhir full load: 200/200 (100.0%), 20/s"]
    assert len(caplog.records) == 3
    LogProgress(logging.getLogger("t"), on_status=statuses.append).finish()  # never started: silent
    assert len(statuses) == 3
    assert describe("x", 10, None, 2.0) == "x: 10, 5/s"
    assert describe("x", 5, 10, 0.0) == "x: 5/10 (50.0%), 0/s"


async def test_runs_cancelled_anywhere_leave_no_lock_behind_and_are_journaled(database: Database) -> None:
    """Per-run timeouts and shutdowns cancel runs at any await, a write transaction included."""

    async def keep_writing(source: Source) -> None:
        while True:
            async with journaled_run(database, source, "delta") as run:
                writer = BatchWriter(database, source, batch_size=10, run_id=run.id)
                await writer.add(f.organization(f"{source.value}-o1"))
                await writer.flush(cursors={"delta": "x"})

    for attempt in range(30):
        tasks = [asyncio.create_task(keep_writing(source)) for source in (Source.FHIR, Source.CSD)]
        await asyncio.sleep(0.002 * attempt)  # cancellation lands at a different point each time
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        async with asyncio.timeout(5), database.write():  # a leaked write lock would block here for 10 s
            pass
    async with database.read() as conn:
        statuses = set((await conn.execute(select(schema.sync_run.c.status))).scalars())
    assert statuses <= {"ok", "interrupted"} and "interrupted" in statuses
