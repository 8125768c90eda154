"""What the mirror holds and how fresh it is, read from the database alone.

Shared by ``rorsync status`` and the service's health endpoint, so both tell the same story.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import orjson
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from rorsync.store import schema
from rorsync.store.engine import Database
from rorsync.store.instances import Instance, list_instances
from rorsync.store.migrate import current_revision, head_revision
from rorsync.store.requests import PENDING, RUNNING
from rorsync.store.state import Cursor, list_cursors


@dataclass(frozen=True, slots=True)
class RunSummary:
    id: int
    source: str
    kind: str
    status: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    counts: dict[str, int]
    error: str | None


@dataclass(frozen=True, slots=True)
class EntityCount:
    live: int
    tombstoned: int


@dataclass(slots=True)
class MirrorStatus:
    database: str
    schema_revision: str | None
    schema_head: str
    cursors: list[Cursor] = field(default_factory=list)
    last_runs: list[RunSummary] = field(default_factory=list)  # the latest run per (source, kind)
    last_success: dict[str, dt.datetime] = field(default_factory=dict)  # per source
    counts: dict[str, EntityCount] = field(default_factory=dict)
    capacity_lines: int = 0
    change_log_head: int | None = None
    quarantined: int = 0
    processes: list[Instance] = field(default_factory=list)  # daemons' heartbeats (alive or not)
    requests: dict[str, int] = field(default_factory=dict)  # unfinished resync requests by status

    @property
    def schema_current(self) -> bool:
        return self.schema_revision == self.schema_head


async def collect_status(db: Database) -> MirrorStatus:
    status = MirrorStatus(db.describe(), await current_revision(db), head_revision())
    if not status.schema_current:
        return status
    async with db.read() as conn:
        status.cursors = await list_cursors(conn)
        status.last_runs = await _last_runs(conn)
        status.last_success = await _last_success(conn)
        for entity, table in schema.ENTITY_TABLES.items():
            deleted = func.sum(case((table.c.deleted_at.is_not(None), 1), else_=0))
            total, tombstoned = (await conn.execute(select(func.count(), deleted).select_from(table))).one()
            status.counts[entity.value] = EntityCount(total - (tombstoned or 0), tombstoned or 0)
        status.capacity_lines = await _scalar(conn, select(func.count()).select_from(schema.capacity))
        status.change_log_head = await _scalar(conn, select(func.max(schema.change_log.c.seq)))
        status.quarantined = await _scalar(conn, select(func.count()).select_from(schema.quarantine))
        status.requests = await _open_requests(conn)
    status.processes = await list_instances(db)
    return status


async def _open_requests(conn: AsyncConnection) -> dict[str, int]:
    requests = schema.resync_request
    rows = await conn.execute(
        select(requests.c.status, func.count())
        .where(requests.c.status.in_([PENDING, RUNNING]))
        .group_by(requests.c.status)
    )
    return {str(status): int(count) for status, count in rows}


async def _scalar(conn: AsyncConnection, statement: object) -> int:
    return int((await conn.execute(statement)).scalar() or 0)  # type: ignore[call-overload]


async def _last_runs(conn: AsyncConnection) -> list[RunSummary]:
    runs = schema.sync_run
    latest = select(func.max(runs.c.id).label("id")).group_by(runs.c.source, runs.c.kind).subquery()
    rows = await conn.execute(select(runs).join(latest, runs.c.id == latest.c.id).order_by(runs.c.source, runs.c.kind))
    return [
        RunSummary(
            r.id,
            r.source,
            r.kind,
            r.status,
            r.started_at,
            r.ended_at,
            orjson.loads(r.counts) if r.counts else {},
            r.error,
        )
        for r in rows
    ]


async def _last_success(conn: AsyncConnection) -> dict[str, dt.datetime]:
    runs = schema.sync_run
    rows = await conn.execute(
        select(runs.c.source, func.max(runs.c.ended_at)).where(runs.c.status == "ok").group_by(runs.c.source)
    )
    return {source: ended for source, ended in rows if ended is not None}
