"""Cursors commit with their rows; runs are journalled; tombstones only through an explicit sweep."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from rorsync.model import Entity, Source
from rorsync.store import schema, state
from rorsync.store.engine import Database
from rorsync.store.sweep import purge_tombstones, tombstone_unseen
from rorsync.store.upsert import WriteContext, apply_records
from tests import factories as f

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


class Boom(RuntimeError):
    pass


async def _count(db: Database, table: object) -> int:
    async with db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


@pytest.mark.parametrize("fail_after_cursor", [False, True])
async def test_a_failure_between_rows_and_cursor_leaves_neither(database: Database, fail_after_cursor: bool) -> None:
    with pytest.raises(Boom):
        async with database.write() as conn:
            await apply_records(WriteContext(conn, Source.FHIR, NOW), [f.organization("o1"), f.location("l1")])
            if fail_after_cursor:
                await state.set_cursor(conn, Source.FHIR, "Organization", "2026-01-01T00:00:00Z", now=NOW, run_id=None)
            raise Boom
    assert await _count(database, schema.organization) == 0
    assert await _count(database, schema.change_log) == 0
    async with database.read() as conn:
        assert await state.get_cursor(conn, Source.FHIR, "Organization") is None


async def test_rows_and_cursor_commit_together(database: Database) -> None:
    async with database.write() as conn:
        await apply_records(WriteContext(conn, Source.FHIR, NOW), [f.organization("o1")])
        await state.set_cursor(conn, Source.FHIR, "Organization", "v1", now=NOW, run_id=None)
    async with database.write() as conn:
        await state.set_cursor(conn, Source.FHIR, "Organization", "v2", now=NOW, run_id=None)
    async with database.read() as conn:
        assert await state.get_cursor(conn, Source.FHIR, "Organization") == "v2"
        assert [c.value for c in await state.list_cursors(conn)] == ["v2"]


async def test_run_journal_and_abandoned_runs(database: Database) -> None:
    done = await state.start_run(database, Source.FHIR, "delta", scope=None, now=NOW)
    await state.finish_run(database, done, status=state.RunStatus.OK, now=NOW, counts={"inserted": 3})
    await state.start_run(database, Source.CSD, "full", scope="11", now=NOW)
    assert await state.close_abandoned_runs(database, now=NOW) == 1
    async with database.read() as conn:
        runs = {r.id: r for r in await conn.execute(select(schema.sync_run))}
    assert runs[done].status == "ok" and runs[done].counts == '{"inserted":3}'
    assert [r.status for r in runs.values() if r.id != done] == ["interrupted"]


async def test_sweep_tombstones_only_unseen_rows_of_the_loaded_scope(database: Database) -> None:
    start = NOW + dt.timedelta(hours=1)
    async with database.write() as conn:
        await apply_records(
            WriteContext(conn, Source.FHIR, NOW),
            [f.organization("gone"), f.organization("kept"), f.organization("elsewhere", region="24")],
        )
    async with database.write() as conn:  # the complete load (region 11) sees only "kept"
        await apply_records(WriteContext(conn, Source.FHIR, start), [f.organization("kept")])
    async with database.write() as conn:
        swept = await tombstone_unseen(
            WriteContext(conn, Source.FHIR, start), Entity.ORGANIZATION, seen_before=start, regions={"11"}
        )
    assert swept == 1
    async with database.read() as conn:
        org = schema.organization
        states = {r.resource_id: r.deleted_at for r in await conn.execute(select(org.c.resource_id, org.c.deleted_at))}
    assert states["gone"] == start
    assert states["kept"] is None and states["elsewhere"] is None
    # Inside the grace period nothing is physically deleted; after it, the row goes.
    async with database.write() as conn:
        ctx = WriteContext(conn, Source.FHIR, start)
        assert await purge_tombstones(ctx, Entity.ORGANIZATION, deleted_before=start) == 0
        assert await purge_tombstones(ctx, Entity.ORGANIZATION, deleted_before=start + dt.timedelta(days=8)) == 1
    assert await _count(database, schema.organization) == 2


async def test_purge_takes_child_rows_along(database: Database) -> None:
    async with database.write() as conn:
        await apply_records(
            WriteContext(conn, Source.FHIR, NOW),
            [f.location("l1", capacities=[f.capacity("01", 3)], contacts=[f.telecom("01")])],
        )
        ctx = WriteContext(conn, Source.FHIR, NOW + dt.timedelta(days=1))
        await tombstone_unseen(ctx, Entity.LOCATION, seen_before=ctx.seen_at)
        await purge_tombstones(ctx, Entity.LOCATION, deleted_before=ctx.seen_at + dt.timedelta(seconds=1))
    for table in (schema.location, schema.capacity, schema.contact):
        assert await _count(database, table) == 0


async def test_bulk_written_times_compare_exactly_with_query_parameters(database: Database) -> None:
    """A row written at T is not "seen before T": stored and bound instants share one format."""
    async with database.write() as conn:
        ctx = WriteContext(conn, Source.FHIR, NOW)
        await apply_records(ctx, [f.organization("o1"), f.location("l1", capacities=[f.capacity("01", 3)])])
        for entity in (Entity.ORGANIZATION, Entity.LOCATION):
            assert await tombstone_unseen(ctx, entity, seen_before=NOW) == 0
    async with database.read() as conn:
        stored = (await conn.execute(select(schema.organization.c.last_seen))).scalar_one()
    assert stored == NOW
