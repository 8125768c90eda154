"""Schema migrations (Alembic), driven from the ``rorsync db`` commands and checked before any sync.

A process that would write with an outdated schema could half-write rows or silently drop
columns, so every writer calls :func:`require_current_schema` first and stops with a message
telling the operator what to run.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from rorsync.store.engine import Database

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class SchemaOutdatedError(RuntimeError):
    """The database schema is not the one this rorsync expects."""


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise SchemaOutdatedError("no migrations are shipped with this rorsync")
    return head


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(db: Database) -> str | None:
    async with db.read() as conn:
        return await conn.run_sync(_current)


async def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade to ``revision``; returns (before, after). Safe to run concurrently: writers queue."""
    async with db.write() as conn:
        before = await conn.run_sync(_current)
        await conn.run_sync(lambda sync: command.upgrade(_config(sync), revision))
        after = await conn.run_sync(_current)
    return before, after


async def downgrade(db: Database, revision: str) -> tuple[str | None, str | None]:
    async with db.write() as conn:
        before = await conn.run_sync(_current)
        await conn.run_sync(lambda sync: command.downgrade(_config(sync), revision))
        after = await conn.run_sync(_current)
    return before, after


async def require_current_schema(db: Database) -> None:
    """Refuse to go on unless the database is at this rorsync's head revision."""
    current, head = await current_revision(db), head_revision()
    if current == head:
        return
    where = db.describe()
    if current is None:
        raise SchemaOutdatedError(f"the database {where} has no rorsync schema yet: run `rorsync db upgrade`")
    known = {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}
    if current not in known:
        raise SchemaOutdatedError(
            f"the database {where} is at schema revision {current}, newer than this rorsync knows "
            f"(head {head}): upgrade rorsync, or downgrade the database with the newer version"
        )
    raise SchemaOutdatedError(
        f"the database {where} is at schema revision {current}, this rorsync needs {head}: run `rorsync db upgrade`"
    )
