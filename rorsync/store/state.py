"""Sync state: cursors per (source, stream) and the run journal.

Cursors are written only through :func:`set_cursor` inside the write transaction that carries the
rows they cover. Runs are journalled in their own short transactions, so a run that dies still
leaves a trace: :func:`close_abandoned_runs` marks runs a previous process left "running".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from rorsync.model import Source
from rorsync.store import schema
from rorsync.store.engine import Database


class RunStatus:
    RUNNING = "running"
    OK = "ok"
    PARTIAL = "partial"  # finished, but some objects failed (recorded in the error field)
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # the process stopped before the run ended


@dataclass(frozen=True, slots=True)
class Cursor:
    source: str
    stream: str
    value: str
    updated_at: dt.datetime
    run_id: int | None


def parse_instant(value: str) -> dt.datetime:
    """An instant as cursors and FHIR write it (``2026-01-01T10:00:00.123+01:00`` or ``Z``), aware UTC."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"instant without a time zone: {value!r}")
    return parsed.astimezone(dt.UTC)


def format_instant(value: dt.datetime) -> str:
    """The form rorsync sends in ``_lastUpdated`` and stores in cursors (UTC, milliseconds, ``Z``)."""
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def get_cursor(conn: AsyncConnection, source: Source, stream: str) -> str | None:
    table = schema.sync_cursor
    result = await conn.execute(select(table.c.value).where(table.c.source == source.value, table.c.stream == stream))
    return result.scalar_one_or_none()


async def set_cursor(
    conn: AsyncConnection, source: Source, stream: str, value: str, *, now: dt.datetime, run_id: int | None
) -> None:
    """Insert or move a cursor, in the caller's transaction (the one that wrote its rows)."""
    values = {"source": source.value, "stream": stream, "value": value, "updated_at": now, "run_id": run_id}
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(schema.sync_cursor).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=["source", "stream"],
        set_={
            "value": statement.excluded.value,
            "updated_at": statement.excluded.updated_at,
            "run_id": statement.excluded.run_id,
        },
    )
    await conn.execute(statement)


async def clear_cursor(conn: AsyncConnection, source: Source, stream: str) -> None:
    table = schema.sync_cursor
    await conn.execute(delete(table).where(table.c.source == source.value, table.c.stream == stream))


async def list_cursors(conn: AsyncConnection) -> list[Cursor]:
    table = schema.sync_cursor
    rows = await conn.execute(select(table).order_by(table.c.source, table.c.stream))
    return [Cursor(r.source, r.stream, r.value, r.updated_at, r.run_id) for r in rows]


async def start_run(db: Database, source: Source, kind: str, *, scope: str | None, now: dt.datetime) -> int:
    async with db.write() as conn:
        result = await conn.execute(
            insert(schema.sync_run)
            .values(source=source.value, kind=kind, scope=scope, started_at=now, status=RunStatus.RUNNING)
            .returning(schema.sync_run.c.id)
        )
        return int(result.scalar_one())


async def finish_run(
    db: Database,
    run_id: int,
    *,
    status: str,
    now: dt.datetime,
    counts: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    async with db.write() as conn:
        await conn.execute(
            update(schema.sync_run)
            .where(schema.sync_run.c.id == run_id)
            .values(
                status=status,
                ended_at=now,
                counts=orjson.dumps(counts).decode() if counts else None,
                error=error,
            )
        )


async def close_abandoned_runs(db: Database, *, now: dt.datetime) -> int:
    """Mark runs still "running" as interrupted: called once at start-up, before any new run."""
    async with db.write() as conn:
        result = await conn.execute(
            update(schema.sync_run)
            .where(schema.sync_run.c.status == RunStatus.RUNNING)
            .values(status=RunStatus.INTERRUPTED, ended_at=now, error="the process stopped before the run ended")
        )
        return result.rowcount or 0
