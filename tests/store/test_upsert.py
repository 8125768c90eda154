"""Version-guarded upserts: idempotent, order-independent for distinct versions, children as a set."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from rorsync.model import Entity, Record, Source
from rorsync.store import migrate, schema
from rorsync.store.engine import Database
from rorsync.store.sweep import tombstone_unseen
from rorsync.store.upsert import ApplyCounts, WriteContext, apply_records
from tests import factories as f

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


async def apply(db: Database, records: list[Record], *, seen_at: dt.datetime = NOW) -> ApplyCounts:
    async with db.write() as conn:
        return await apply_records(WriteContext(conn, Source.FHIR, seen_at), records)


async def rows(db: Database, table: Any, *columns: str) -> list[tuple[Any, ...]]:
    async with db.read() as conn:
        selected = [table.c[name] for name in columns]
        return [tuple(r) for r in await conn.execute(select(*selected).order_by(*selected))]


async def test_insert_then_replay_changes_nothing(database: Database) -> None:
    batch = [f.organization("o1"), f.offer("s1", organization_ref="o1", location_refs=["l1"]), f.location("l1")]
    first = await apply(database, batch)
    assert (first.inserted, first.updated, first.unchanged) == (3, 0, 0)
    replay = await apply(database, batch, seen_at=NOW + dt.timedelta(hours=1))
    assert (replay.inserted, replay.updated, replay.unchanged) == (0, 0, 3)
    assert await rows(database, schema.change_log, "entity", "resource_id", "op") == [
        ("location", "l1", "insert"),
        ("offer", "s1", "insert"),
        ("organization", "o1", "insert"),
    ]
    # The replay still counts as a sighting (mark-and-sweep relies on it).
    assert await rows(database, schema.organization, "last_seen") == [(NOW + dt.timedelta(hours=1),)]


async def test_an_older_version_after_a_newer_one_is_refused(database: Database) -> None:
    await apply(database, [f.organization("o1", f.at(10), name="new")])
    counts = await apply(database, [f.organization("o1", f.at(5), name="old")])
    assert (counts.updated, counts.stale) == (0, 1)
    assert await rows(database, schema.organization, "name", "last_updated") == [("new", f.at(10))]


async def test_same_timestamp_with_new_content_is_applied(database: Database) -> None:
    await apply(database, [f.organization("o1", f.at(10), name="before")])
    counts = await apply(database, [f.organization("o1", f.at(10), name="after")])
    assert counts.updated == 1
    assert await rows(database, schema.organization, "name") == [("after",)]


async def test_duplicates_inside_one_batch_keep_the_newest(database: Database) -> None:
    counts = await apply(database, [f.organization("o1", f.at(2), name="b"), f.organization("o1", f.at(1), name="a")])
    assert (counts.received, counts.inserted) == (2, 1)
    assert await rows(database, schema.organization, "name") == [("b",)]


async def test_children_are_replaced_as_a_set_only_when_the_parent_wins(database: Database) -> None:
    contacts = [f.telecom("0101", contact_level=1), f.telecom("0202", contact_level=2, telecom_level=3)]
    codes = [{"kind": "specialty", "table_id": "TRE_R211", "code": "022"}]
    await apply(database, [f.offer("s1", f.at(1), contacts=contacts, codes=codes, location_refs=["l1", "l2"])])
    await apply(database, [f.offer("s1", f.at(0), contacts=[], codes=[], location_refs=[])])  # stale: ignored
    assert len(await rows(database, schema.contact, "value")) == 2
    await apply(database, [f.offer("s1", f.at(2), contacts=[f.telecom("0303")], codes=[], location_refs=["l2"])])
    assert await rows(database, schema.contact, "value", "telecom_confidentiality") == [("0303", 1)]
    assert await rows(database, schema.entity_code, "code") == []
    assert await rows(database, schema.offer_location, "location_ref") == [("l2",)]


async def test_capacity_changes_land_in_the_history(database: Database) -> None:
    later, latest = NOW + dt.timedelta(hours=1), NOW + dt.timedelta(hours=2)
    await apply(database, [f.location("l1", f.at(1), capacities=[f.capacity("01", 20), f.capacity("02", 5)])])
    assert await rows(database, schema.capacity_history, "status") == []  # first sight: no history
    counts = await apply(
        database,
        [f.location("l1", f.at(2), capacities=[f.capacity("01", 20), f.capacity("02", 3), f.capacity("03", 17)])],
        seen_at=later,
    )
    assert counts.capacity_changes == 2
    await apply(database, [f.location("l1", f.at(3), capacities=[f.capacity("01", 20)])], seen_at=latest)
    assert await rows(database, schema.capacity_history, "observed_at", "status", "previous_nb", "nb") == [
        (later, "02", 5, 3),
        (later, "03", None, 17),
        (latest, "02", 3, None),
        (latest, "03", 17, None),
    ]
    assert await rows(database, schema.capacity, "status", "nb") == [("01", 20)]


async def test_a_tombstoned_row_seen_again_is_restored(database: Database) -> None:
    await apply(database, [f.organization("o1")])
    async with database.write() as conn:
        ctx = WriteContext(conn, Source.FHIR, NOW + dt.timedelta(days=1))
        swept = await tombstone_unseen(ctx, Entity.ORGANIZATION, seen_before=NOW + dt.timedelta(hours=1))
    assert swept == 1
    counts = await apply(database, [f.organization("o1")], seen_at=NOW + dt.timedelta(days=2))
    assert counts.restored == 1
    assert await rows(database, schema.organization, "deleted_at") == [(None,)]
    ops = [op for (op,) in await rows(database, schema.change_log, "op")]
    assert sorted(ops) == ["insert", "restore", "tombstone"]


# --- properties ---------------------------------------------------------------------------------------

versions = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 5), st.sampled_from(["x", "y"])),
    min_size=1,
    max_size=12,
)


def _records(spec: list[tuple[str, int, str]]) -> list[Record]:
    # A version is (id, minute, name): the same (id, minute) always carries the same content, as a
    # server's version would.
    return [f.organization(rid, f.at(minute), name=f"{rid}{minute}") for rid, minute, _ in spec]


async def _final_state(db: Database) -> list[tuple[Any, ...]]:
    return await rows(db, schema.organization, "resource_id", "last_updated", "name", "payload_hash")


def _fresh(tmp: Path) -> Database:
    return Database(f"sqlite:///{tmp / f'{uuid.uuid4().hex}.sqlite'}")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=versions, order=st.randoms(use_true_random=False))
def test_final_state_is_the_newest_version_whatever_the_order_and_replays(
    tmp_path: Path, spec: list[tuple[str, int, str]], order: Any
) -> None:
    async def scenario() -> None:
        records = _records(spec)
        shuffled = records[:]
        order.shuffle(shuffled)
        replayed = shuffled + records  # at-least-once: everything may come again, in any order
        db = _fresh(tmp_path)
        await migrate.upgrade(db)
        try:
            for record in replayed:
                await apply(db, [record])
            state = await _final_state(db)
            expected = {}
            for rid, minute, _ in spec:
                expected[rid] = max(expected.get(rid, minute), minute)
            assert [(r[0], r[1]) for r in state] == sorted((rid, f.at(m)) for rid, m in expected.items())
            # Replaying the whole history once more changes nothing at all.
            before = await rows(db, schema.change_log, "seq")
            for record in replayed:
                counts = await apply(db, [record])
                assert counts.inserted == counts.updated == counts.restored == 0
            assert await rows(db, schema.change_log, "seq") == before
            assert await _final_state(db) == state
        finally:
            await db.close()

    asyncio.run(scenario())


async def test_counts_of_a_batch_add_up(database: Database) -> None:
    counts = await apply(database, [f.organization(f"o{i}") for i in range(50)] + [f.organization("o1")])
    assert counts.received == 51
    assert counts.inserted + counts.updated + counts.unchanged + counts.stale == 51
    async with database.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(schema.organization))).scalar() == 50
