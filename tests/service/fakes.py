"""A fake sync engine that behaves like the real ones towards the service.

It journals its runs with ``journaled_run``, writes real records through ``BatchWriter`` with
cursors committed alongside, resumes an interrupted initial load from its cursor, and can be told
to be slow, hang, fail or finish partially. It also counts how many of its runs overlap.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from rorsync.config import Settings
from rorsync.model import Source
from rorsync.store.engine import Database
from rorsync.store.state import get_cursor
from rorsync.sync.engine import Job, ResyncRequest
from rorsync.sync.progress import Progress
from rorsync.sync.runs import RunHandle, journaled_run
from rorsync.sync.writer import BatchWriter
from tests import factories as f

Body = Callable[[RunHandle, Progress], Awaitable[None]]
LOADED = "initial:done"
LOAD_OFFSET = "initial:offset"


@dataclass
class Behaviour:
    seconds: float = 0.0
    fail: bool = False
    hang: bool = False
    partial: bool = False


class FakeEngine:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        source: Source = Source.FHIR,
        *,
        organizations: int = 0,
        batch: int = 10,
        batch_delay: float = 0.0,
    ) -> None:
        self.source = source
        self.db = db
        self.settings = settings
        self.organizations = organizations  # the initial load's size (0: no initial load needed)
        self.batch = batch
        self.batch_delay = batch_delay
        self.behaviour: dict[str, Behaviour] = {"delta": Behaviour(), "initial": Behaviour(), "resync": Behaviour()}
        self.remote: dict[str, dt.datetime] = {}  # the "server": resource id → last update
        self.started: Counter[str] = Counter()
        self.running: Counter[str] = Counter()
        self.most_at_once: Counter[str] = Counter()
        self.order: list[str] = []
        self.prepared = 0
        self.closed = False

    @property
    def name(self) -> str:
        return self.source.value

    async def prepare(self) -> None:
        self.prepared += 1

    def jobs(self) -> list[Job]:
        every = self.settings.schedule.fhir_delta if self.source == Source.FHIR else self.settings.schedule.csd_notif
        return [Job(f"{self.name}:delta", "delta", self._delta, self.settings.schedule.run_timeout, every=every)]

    async def initial_load_needed(self) -> bool:
        if not self.organizations:
            return False
        async with self.db.read() as conn:
            return await get_cursor(conn, self.source, LOADED) is None

    async def initial_load(self, progress: Progress) -> None:
        await self._run("initial", "full", self._load, progress)

    async def resync(self, request: ResyncRequest, progress: Progress) -> None:
        await self._run("resync", "resync", self._write_remote, progress, scope=request.describe())

    async def aclose(self) -> None:
        self.closed = True

    async def _delta(self, progress: Progress) -> None:
        await self._run("delta", "delta", self._write_remote, progress)

    async def _run(self, what: str, kind: str, body: Body, progress: Progress, scope: str | None = None) -> None:
        behaviour = self.behaviour[what]
        async with journaled_run(self.db, self.source, kind, scope=scope) as run:
            self.started[what] += 1
            self.order.append(what)
            self.running[what] += 1
            self.most_at_once[what] = max(self.most_at_once[what], self.running[what])
            if what in ("delta", "resync"):  # both read the same changes: they must never overlap
                self.running["changes"] += 1
                self.most_at_once["changes"] = max(self.most_at_once["changes"], self.running["changes"])
            try:
                await asyncio.sleep(behaviour.seconds)
                if behaviour.hang:
                    await asyncio.sleep(3600)
                if behaviour.fail:
                    raise RuntimeError(f"{self.name} {what} broke")
                await body(run, progress)
                if behaviour.partial:
                    run.failures.append("Organization/x: meta.lastUpdated is missing")
            finally:
                self.running[what] -= 1
                if what in ("delta", "resync"):
                    self.running["changes"] -= 1

    async def _write_remote(self, run: RunHandle, progress: Progress) -> None:
        writer = BatchWriter(self.db, self.source, batch_size=100, run_id=run.id, counts=run.counts)
        for resource_id, updated in sorted(self.remote.items()):
            await writer.add(f.organization(resource_id, updated))
        newest = max(self.remote.values(), default=f.T0)
        beds = f.capacity("01", len(self.remote), updated_at=newest)  # type: ignore[arg-type]
        await writer.add(f.location("site", newest, capacities=[beds]))
        await writer.flush(cursors={"delta": newest.isoformat()})

    async def _load(self, run: RunHandle, progress: Progress) -> None:
        """Resumable: each batch commits its offset with its rows, like a real export load."""
        async with self.db.read() as conn:
            offset = int(await get_cursor(conn, self.source, LOAD_OFFSET) or 0)
        progress.start(f"{self.name} initial load", self.organizations - offset)
        # One more than a batch: add() never flushes on its own, each flush carries its offset.
        writer = BatchWriter(
            self.db, self.source, batch_size=self.batch + 1, run_id=run.id, progress=progress, counts=run.counts
        )
        while offset < self.organizations:
            end = min(offset + self.batch, self.organizations)
            await writer.add_all(f.organization(f"org{i:05d}") for i in range(offset, end))
            await writer.flush(cursors={LOAD_OFFSET: str(end)})
            offset = end
            await asyncio.sleep(self.batch_delay)
        await writer.flush(cursors={LOADED: f.T0.isoformat()})
        progress.finish()


def from_environment(source: Source) -> Callable[[Settings, Database], FakeEngine]:
    """An engine factory for the subprocess tests, shaped by ``FAKE_*`` environment variables."""

    def build(settings: Settings, db: Database) -> FakeEngine:
        engine = FakeEngine(
            settings,
            db,
            source,
            organizations=int(os.environ.get("FAKE_ORGANIZATIONS", "0")),
            batch=int(os.environ.get("FAKE_BATCH", "10")),
            batch_delay=float(os.environ.get("FAKE_BATCH_DELAY", "0")),
        )
        engine.behaviour["delta"].seconds = float(os.environ.get("FAKE_DELTA_SECONDS", "0"))
        return engine

    return build
