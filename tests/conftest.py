"""Shared test fixtures: where the reference material lives, and the PostgreSQL server."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from rorsync.store import migrate, schema
from rorsync.store.engine import Database

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ANS reference material beside the checkout (CI always has it: a missing copy fails there)."""
    if not SHARED.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"reference material not found at {SHARED}")
        pytest.skip(f"reference material not found at {SHARED}")
    return SHARED


# --- databases ------------------------------------------------------------------------------------

POSTGRES_ADMIN_DSN = os.environ.get("RORSYNC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _postgres_answers() -> str | None:
    """None when the server answers, else the reason (the skip message)."""
    try:
        conn = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError) as error:
        return f"no PostgreSQL server answers at {POSTGRES_ADMIN_DSN}: {error}"
    await conn.close()
    return None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL database for this test session (mandatory in CI)."""
    reason = asyncio.run(_postgres_answers())
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL tests are mandatory in CI: {reason}")
        pytest.skip(reason)
    name = f"rorsync_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mirror.sqlite'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """An upgraded, empty mirror on each backend."""
    db = Database(database_url)
    await migrate.upgrade(db)
    try:
        yield db
    finally:
        await _empty(db)
        await db.close()


async def _empty(db: Database) -> None:
    """Leave the shared PostgreSQL database clean for the next test (SQLite files just go away)."""
    if db.is_sqlite:
        return
    async with db.write() as conn:
        # policy_state describes the views, which stay: emptying it would make them look unbuilt.
        kept = {schema.policy_state.name}
        tables = ", ".join(table.name for table in schema.metadata.sorted_tables if table.name not in kept)
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
