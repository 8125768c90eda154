"""What every CSD sync step needs, and the sync state the CSD source keeps in ``sync_cursor``.

Streams of the ``csd`` source:

* ``notif`` — the instant (UTC ISO) the last successful TR-Notif cycle started; the next TR-Notif
  asks for changes after it minus ``csd.overlap``.
* ``notif:pending`` — JSON ``{idNatStruct: since}`` of the establishments whose TR-Lecture failed:
  each keeps the ``dateRef`` it failed at (``null``: a full read) and is read again next cycle,
  so the cursor never passes a failed establishment.
* ``recheck`` — JSON ``{"after": idNatStruct}``: where the rotation of full reads (TR-Lecture
  without ``dateRef``, to detect removed internal organisations) stands.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from rorsync.config import Settings
from rorsync.model import Source
from rorsync.sources.csd.client import CsdClient
from rorsync.sources.csd.resolver import ParseWarning
from rorsync.store.engine import Database
from rorsync.store.state import format_instant, get_cursor, parse_instant
from rorsync.sync.runs import RunHandle
from rorsync.sync.writer import Clock, SourceContext, utcnow

log = logging.getLogger(__name__)

NOTIF_STREAM = "notif"
PENDING_STREAM = "notif:pending"
RECHECK_STREAM = "recheck"

Targets = dict[str, dt.datetime | None]
"""Establishments to read, by idNatStruct: the ``dateRef`` to send, None for a full read."""


class CursorMissing(RuntimeError):
    """A TR-Notif cycle was asked for before any complete load of the CSD source."""


@dataclass
class CsdContext(SourceContext):
    source: ClassVar[Source] = Source.CSD

    settings: Settings
    db: Database
    client: CsdClient
    clock: Clock = utcnow


async def read_notif_cursor(conn: AsyncConnection) -> dt.datetime | None:
    value = await get_cursor(conn, Source.CSD, NOTIF_STREAM)
    return parse_instant(value) if value else None


async def read_pending(conn: AsyncConnection) -> Targets:
    value = await get_cursor(conn, Source.CSD, PENDING_STREAM)
    stored: dict[str, str | None] = orjson.loads(value) if value else {}
    return {establishment: parse_instant(since) if since else None for establishment, since in stored.items()}


def pending_value(targets: Targets) -> str:
    return orjson.dumps(
        {key: format_instant(since) if since else None for key, since in sorted(targets.items())}
    ).decode()


def cycle_cursors(cycle_start: dt.datetime, failed: Targets) -> dict[str, str]:
    """The cursors a finished TR-Notif cycle commits with its last rows."""
    return {NOTIF_STREAM: format_instant(cycle_start), PENDING_STREAM: pending_value(failed)}


def merge_targets(*groups: Mapping[str, dt.datetime | None]) -> Targets:
    """One read per establishment, from the earliest ``dateRef`` asked for (a full read wins)."""
    merged: Targets = {}
    for group in groups:
        for establishment, since in group.items():
            if establishment not in merged:
                merged[establishment] = since
            else:
                known = merged[establishment]
                merged[establishment] = None if known is None or since is None else min(known, since)
    return merged


def log_warnings(run: RunHandle, warnings: Iterable[ParseWarning], shown: int = 5) -> None:
    """Leniencies of the parser (keys derived for objects without identifier...): counted in the
    journal, the first few logged, all of them at debug level."""
    count = 0
    for warning in warnings:
        count += 1
        if count <= shown:
            log.info("csd: %s", warning)
        else:
            log.debug("csd: %s", warning)
    if count:
        run.extra["warnings"] = run.extra.get("warnings", 0) + count
    if count > shown:
        log.info("csd: %d more parser warnings (debug level shows them all)", count - shown)
