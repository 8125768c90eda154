"""Heartbeats of running rorsync processes: how a command knows whether a daemon is alive.

The daemon (and a foreground resync, while it runs) keeps one row up to date every few seconds and
deletes it when it stops cleanly. A process is alive while its heartbeat is younger than
:data:`HEARTBEAT_TTL`; a row older than that is a process that died (``kill -9``, power loss).
This works the same on SQLite and PostgreSQL, and across hosts sharing one PostgreSQL database
(clocks are assumed NTP-synchronised: the TTL is many times any reasonable skew).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update

from rorsync import __version__
from rorsync.store import schema
from rorsync.store.engine import Database

DAEMON = "daemon"
FOREGROUND = "foreground"
HEARTBEAT_INTERVAL = dt.timedelta(seconds=5)
HEARTBEAT_TTL = dt.timedelta(seconds=20)

_table = schema.service_instance


@dataclass(frozen=True, slots=True)
class Instance:
    instance: str
    role: str
    host: str
    pid: int
    version: str
    started_at: dt.datetime
    beat_at: dt.datetime

    def alive(self, now: dt.datetime, ttl: dt.timedelta = HEARTBEAT_TTL) -> bool:
        return now - self.beat_at <= ttl

    @property
    def local(self) -> bool:
        return self.host == socket.gethostname()


def this_process(role: str, started_at: dt.datetime) -> Instance:
    host, pid = socket.gethostname(), os.getpid()
    return Instance(f"{role}:{host}:{pid}", role, host, pid, __version__, started_at, started_at)


async def beat(db: Database, instance: Instance, *, now: dt.datetime) -> None:
    """Refresh this process's heartbeat (re-inserting it if another process pruned it as dead)."""
    async with db.write() as conn:
        result = await conn.execute(update(_table).where(_table.c.instance == instance.instance).values(beat_at=now))
        if not result.rowcount:
            values = {
                "instance": instance.instance,
                "role": instance.role,
                "host": instance.host,
                "pid": instance.pid,
                "version": instance.version,
                "started_at": instance.started_at,
                "beat_at": now,
            }
            await conn.execute(insert(_table).values(values))


async def remove_instance(db: Database, instance: Instance) -> None:
    async with db.write() as conn:
        await conn.execute(delete(_table).where(_table.c.instance == instance.instance))


async def list_instances(db: Database) -> list[Instance]:
    async with db.read() as conn:
        rows = await conn.execute(select(_table).order_by(_table.c.started_at))
        return [Instance(**row._asdict()) for row in rows]


async def live_daemons(db: Database, *, now: dt.datetime, ttl: dt.timedelta = HEARTBEAT_TTL) -> list[Instance]:
    return [i for i in await list_instances(db) if i.role == DAEMON and i.alive(now, ttl)]


async def prune_dead(db: Database, *, now: dt.datetime, ttl: dt.timedelta = HEARTBEAT_TTL) -> list[str]:
    """Delete the rows of processes whose heartbeat stopped; returns their instance ids."""
    async with db.write() as conn:
        result = await conn.execute(delete(_table).where(_table.c.beat_at < now - ttl).returning(_table.c.instance))
        return list(result.scalars())
