"""Manual resync requests: the queue through which ``rorsync resync`` reaches a running daemon.

A request is a row, so it survives restarts and is visible to every process sharing the database.
Its life: ``pending`` → ``running`` (claimed by exactly one process, atomically) → the outcome of
the run(s) that served it (``ok``, ``partial``, ``failed``, ``interrupted``). A daemon stopping
cleanly puts what it had claimed back to ``pending``, so its successor resumes the work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import insert, or_, select, update

from rorsync.store import schema
from rorsync.store.engine import Database
from rorsync.store.state import RunStatus

PENDING = "pending"
RUNNING = RunStatus.RUNNING
FINISHED = frozenset({RunStatus.OK, RunStatus.PARTIAL, RunStatus.FAILED, RunStatus.INTERRUPTED})


@dataclass(frozen=True, slots=True)
class StoredRequest:
    id: int
    requested_at: dt.datetime
    source: str | None  # None: every enabled source
    full: bool
    organization: str | None
    resource: str | None
    status: str
    picked_by: str | None
    picked_at: dt.datetime | None
    done_at: dt.datetime | None
    error: str | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


_table = schema.resync_request


async def add_request(
    db: Database,
    *,
    source: str | None,
    full: bool,
    organization: str | None,
    resource: str | None,
    now: dt.datetime,
) -> int:
    values = {
        "requested_at": now,
        "source": source,
        "full": full,
        "organization": organization,
        "resource": resource,
        "status": PENDING,
    }
    async with db.write() as conn:
        result = await conn.execute(insert(_table).values(values).returning(_table.c.id))
        return int(result.scalar_one())


async def get_request(db: Database, request_id: int) -> StoredRequest | None:
    async with db.read() as conn:
        row = (await conn.execute(select(_table).where(_table.c.id == request_id))).one_or_none()
    return None if row is None else StoredRequest(**row._asdict())


async def pending_requests(db: Database) -> list[StoredRequest]:
    async with db.read() as conn:
        rows = await conn.execute(select(_table).where(_table.c.status == PENDING).order_by(_table.c.id))
        return [StoredRequest(**row._asdict()) for row in rows]


async def claim_requests(db: Database, ids: Collection[int], *, by: str, now: dt.datetime) -> set[int]:
    """Move still-pending requests to ``running`` for ``by``; returns the ids this caller got."""
    if not ids:
        return set()
    async with db.write() as conn:
        result = await conn.execute(
            update(_table)
            .where(_table.c.id.in_(list(ids)), _table.c.status == PENDING)
            .values(status=RUNNING, picked_by=by, picked_at=now)
            .returning(_table.c.id)
        )
        return {int(request_id) for request_id in result.scalars()}


async def take_over_request(db: Database, request_id: int, *, by: str, abandoned_by: str, now: dt.datetime) -> bool:
    """Claim a request that is pending, or that ``abandoned_by`` (a dead process) left running."""
    async with db.write() as conn:
        result = await conn.execute(
            update(_table)
            .where(
                _table.c.id == request_id,
                or_(
                    _table.c.status == PENDING,
                    (_table.c.status == RUNNING) & (_table.c.picked_by == abandoned_by),
                ),
            )
            .values(status=RUNNING, picked_by=by, picked_at=now)
        )
        return bool(result.rowcount)


async def finish_requests(
    db: Database, ids: Collection[int], *, status: str, error: str | None, now: dt.datetime
) -> None:
    if status not in FINISHED:
        raise ValueError(f"{status!r} is not a final request status")
    async with db.write() as conn:
        await conn.execute(
            update(_table).where(_table.c.id.in_(list(ids))).values(status=status, error=error, done_at=now)
        )


async def requeue_requests(db: Database, *, picked_by: Collection[str]) -> int:
    """Put the running requests of these (stopped) processes back in the queue."""
    if not picked_by:
        return 0
    async with db.write() as conn:
        result = await conn.execute(
            update(_table)
            .where(_table.c.status == RUNNING, _table.c.picked_by.in_(list(picked_by)))
            .values(status=PENDING, picked_by=None, picked_at=None)
        )
        return result.rowcount or 0


async def running_owners(db: Database) -> set[str]:
    """The processes that hold running requests (to requeue those of dead daemons at start-up)."""
    async with db.read() as conn:
        rows = await conn.execute(
            select(_table.c.picked_by).where(_table.c.status == RUNNING, _table.c.picked_by.is_not(None)).distinct()
        )
        return {owner for owner in rows.scalars() if owner}
