"""The CSD source's engine: what to fetch from a ROR speaking MEV2.4, when asked by the daemon or the CLI.

Jobs:

* ``csd:notif`` (``schedule.csd_notif``): TR-Notif with ``dateRef`` = the start of the last
  successful cycle minus ``csd.overlap``, sent as naive Paris time; then TR-Lecture with that
  ``dateRef`` for every establishment listed, and a retry of those still pending.
* ``csd:recheck`` (``schedule.csd_recheck``): full TR-Lectures (no ``dateRef``) of a share of the
  mirrored establishments, so that each is re-read at least every ``csd.full_read_every``; what an
  EG no longer holds — removed internal organisations, offers, locations — is tombstoned.
* ``csd:reconcile`` (``schedule.reconcile``): the complete load again (TR-Extraction when
  configured), which tombstones whole establishments that disappeared.

Each run is journalled; every establishment's failure is recorded with its code and message.
"""

from __future__ import annotations

import asyncio
import math

import orjson

from rorsync.model import Source
from rorsync.sources.csd.client import CsdClient
from rorsync.sources.csd.wsdl import load_client
from rorsync.store.lookup import establishment_ids
from rorsync.store.state import get_cursor
from rorsync.sync.csd.complete import run_complete_load
from rorsync.sync.csd.context import (
    RECHECK_STREAM,
    CsdContext,
    CursorMissing,
    cycle_cursors,
    merge_targets,
    read_notif_cursor,
    read_pending,
)
from rorsync.sync.csd.lecture import read_establishments
from rorsync.sync.csd.resync import resync_identifier
from rorsync.sync.engine import EngineBase, Job, ResyncRequest
from rorsync.sync.progress import NULL_PROGRESS, Progress
from rorsync.sync.runs import RunHandle
from rorsync.transport import TransportObserver


def recheck_share(establishments: list[str], after: str | None, count: int) -> list[str]:
    """The next ``count`` establishments of the rotation, after ``after`` (sorted ids, wrapping around)."""
    if count <= 0 or not establishments:
        return []
    start = 0 if after is None else next((i for i, e in enumerate(establishments) if e > after), 0)
    rotated = establishments[start:] + establishments[:start]
    return rotated[: min(count, len(rotated))]


class CsdEngine(EngineBase[CsdClient, CsdContext]):
    source = Source.CSD

    @property
    def scope(self) -> str:
        return f"profile {self.settings.csd.profile}"

    def _new_client(self, observer: TransportObserver) -> CsdClient:
        return CsdClient(self.settings.csd, observer=observer)

    def _new_context(self, client: CsdClient) -> CsdContext:
        return CsdContext(self.settings, self.db, client, self._clock)

    async def prepare(self) -> None:
        await asyncio.to_thread(load_client)  # the shipped WSDL: a broken installation fails here, not mid-run
        await super().prepare()

    def jobs(self) -> list[Job]:
        schedule = self.settings.schedule
        return [
            Job("csd:notif", "delta", self.poll, schedule.run_timeout, every=schedule.csd_notif),
            Job("csd:recheck", "recheck", self.recheck, schedule.run_timeout, every=schedule.csd_recheck),
            self._reconcile_job(),
        ]

    async def initial_load_needed(self) -> bool:
        async with self.db.read() as conn:
            return await read_notif_cursor(conn) is None

    async def _complete_load(self, run: RunHandle, progress: Progress) -> None:
        await run_complete_load(self.ctx, run, progress)

    async def poll(self, progress: Progress = NULL_PROGRESS) -> None:
        """One TR-Notif cycle; the cursor moves to the cycle's start with the last rows."""
        ctx = self.ctx
        async with self._journaled("delta") as run:
            async with self.db.read() as conn:
                cursor = await read_notif_cursor(conn)
                pending = await read_pending(conn)
            if cursor is None:
                raise CursorMissing("no TR-Notif cursor: the initial load of the CSD source has not completed")
            since = cursor - self.settings.csd.overlap
            started = ctx.clock()
            answer = await ctx.client.notif(since)
            # The server's clock bounds the cycle too: ours may run ahead of it.
            cycle_start = min(started, answer.server_time or started)
            listed = {entry.id_nat_struct: since for entry in answer.establishments.establishments}
            targets = merge_targets(listed, pending)
            run.extra["notified"] = len(listed)
            progress.start(f"csd delta ({len(targets)} establishments)", len(targets))
            writer = ctx.writer(run)
            failed = await read_establishments(ctx, run, writer, targets, progress)
            await writer.flush(cursors=cycle_cursors(cycle_start, failed))

    async def recheck(self, progress: Progress = NULL_PROGRESS) -> None:
        """Full reads of the next share of establishments, sweeping what each no longer holds."""
        ctx = self.ctx
        async with self._journaled("recheck") as run:
            async with self.db.read() as conn:
                establishments = await establishment_ids(conn, Source.CSD)
                stored = await get_cursor(conn, Source.CSD, RECHECK_STREAM)
            after = orjson.loads(stored)["after"] if stored else None
            share = self.settings.schedule.csd_recheck / self.settings.csd.full_read_every
            chosen = recheck_share(establishments, after, math.ceil(len(establishments) * share))
            progress.start(f"csd recheck ({len(chosen)} of {len(establishments)} establishments)", len(chosen))
            writer = ctx.writer(run)
            await read_establishments(ctx, run, writer, dict.fromkeys(chosen), progress)
            cursors = {RECHECK_STREAM: orjson.dumps({"after": chosen[-1]}).decode()} if chosen else None
            await writer.flush(cursors=cursors)

    async def resync(self, request: ResyncRequest, progress: Progress = NULL_PROGRESS) -> None:
        if request.full:
            await self.reconcile(progress)
            return
        if await self.initial_load_needed():  # nothing to take deltas from yet
            await self.initial_load(progress)
        targets = [target for target in (request.organization, request.resource) if target]
        if not targets:
            await self.poll(progress)
            return
        ctx = self.ctx
        async with self._journaled("resync", request.describe()) as run:
            for target in targets:
                await resync_identifier(ctx, run, target, progress)
