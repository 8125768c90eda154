"""The Alembic chain builds exactly the live schema, on SQLite and PostgreSQL, and unwinds cleanly."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from rorsync.store import migrate
from rorsync.store.engine import Database
from rorsync.store.schema import metadata


async def _schema_diff(db: Database) -> list[object]:
    async with db.read() as conn:
        return await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata)
        )


async def _tables(db: Database) -> set[str]:
    async with db.read() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names())) - {"alembic_version"}


async def _at_base(database_url: str) -> Database:
    """The database with no rorsync schema (other tests leave the shared PostgreSQL one at head)."""
    db = Database(database_url)
    await migrate.downgrade(db, "base")
    return db


async def test_upgrade_from_empty_matches_the_live_schema(database_url: str) -> None:
    db = await _at_base(database_url)
    try:
        assert await migrate.current_revision(db) is None
        before, after = await migrate.upgrade(db)
        assert (before, after) == (None, migrate.head_revision())
        assert await _schema_diff(db) == []
        await migrate.require_current_schema(db)
    finally:
        await migrate.downgrade(db, "base")
        await db.close()


async def test_downgrade_then_upgrade_round_trip(database_url: str) -> None:
    db = Database(database_url)
    try:
        await migrate.upgrade(db)
        await migrate.downgrade(db, "base")
        assert await _tables(db) == set()
        await migrate.upgrade(db)
        assert await _tables(db) == {table.name for table in metadata.sorted_tables}
        assert await _schema_diff(db) == []
    finally:
        await migrate.downgrade(db, "base")
        await db.close()


async def test_a_process_refuses_an_outdated_or_unknown_schema(database_url: str) -> None:
    db = await _at_base(database_url)
    try:
        with pytest.raises(migrate.SchemaOutdatedError, match="run `rorsync db upgrade`"):
            await migrate.require_current_schema(db)
        await migrate.upgrade(db)
        async with db.write() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
        with pytest.raises(migrate.SchemaOutdatedError, match="newer than this rorsync knows"):
            await migrate.require_current_schema(db)
        async with db.write() as conn:
            await conn.execute(text(f"UPDATE alembic_version SET version_num = '{migrate.head_revision()}'"))
    finally:
        await migrate.downgrade(db, "base")
        await db.close()


async def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: object) -> None:
    db = Database(f"sqlite:///{tmp_path}/m.sqlite")
    try:
        async with db.read() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 10_000
    finally:
        await db.close()
