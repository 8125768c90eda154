"""The FHIR source's engine: what to fetch, when asked by the daemon or the CLI.

Jobs: deltas of every type but Location (``schedule.fhir_delta``), capacity polling — Location
deltas, whose ``meta.lastUpdated`` moves with every capacity change — on its own, more frequent
schedule (``schedule.fhir_capacity``), and the weekly complete load that reconciles deletions
(``schedule.reconcile``). Each run is journalled.
"""

from __future__ import annotations

import logging

from rorsync.model import Source
from rorsync.sources.fhir.client import FhirClient
from rorsync.store.requests import add_request, pending_requests
from rorsync.store.state import get_cursor
from rorsync.sync.engine import EngineBase, Job, ResyncRequest
from rorsync.sync.fhir.complete import run_complete_load
from rorsync.sync.fhir.context import CAPACITY_TYPE, DELTA_TYPES, RESOURCE_TYPES, FhirContext, delta_stream
from rorsync.sync.fhir.delta import DeltaTooLarge, run_delta
from rorsync.sync.fhir.resync import resync_organization, resync_resource
from rorsync.sync.progress import NULL_PROGRESS, Progress
from rorsync.sync.runs import RunHandle
from rorsync.transport import TransportObserver

log = logging.getLogger(__name__)


class FhirEngine(EngineBase[FhirClient, FhirContext]):
    source = Source.FHIR

    @property
    def scope(self) -> str:
        return ",".join(self.settings.fhir.regions) or "national"

    def _new_client(self, observer: TransportObserver) -> FhirClient:
        return FhirClient(self.settings.fhir, observer=observer)

    def _new_context(self, client: FhirClient) -> FhirContext:
        return FhirContext(self.settings, self.db, client, self._clock)

    def jobs(self) -> list[Job]:
        schedule = self.settings.schedule
        return [
            Job("fhir:delta", "delta", self.poll, schedule.run_timeout, every=schedule.fhir_delta),
            Job("fhir:capacity", "capacity", self.poll_capacity, schedule.run_timeout, every=schedule.fhir_capacity),
            self._reconcile_job(),
        ]

    async def initial_load_needed(self) -> bool:
        async with self.db.read() as conn:
            for resource_type in RESOURCE_TYPES:
                if await get_cursor(conn, Source.FHIR, delta_stream(resource_type)) is None:
                    return True
        return False

    async def _complete_load(self, run: RunHandle, progress: Progress) -> None:
        await run_complete_load(self.ctx, run, progress)

    async def poll(self, progress: Progress = NULL_PROGRESS) -> None:
        await self._deltas("delta", DELTA_TYPES)

    async def poll_capacity(self, progress: Progress = NULL_PROGRESS) -> None:
        await self._deltas("capacity", (CAPACITY_TYPE,))

    async def _deltas(self, kind: str, resource_types: tuple[str, ...]) -> None:
        async with self._journaled(kind) as run:
            try:
                for resource_type in resource_types:
                    await run_delta(self.ctx, run, resource_type)
            except DeltaTooLarge:
                await self._queue_complete_load()
                raise

    async def _queue_complete_load(self) -> None:
        """Fall back to ``$export``: a full resync request, which the daemon runs in its reconcile lane
        (with the complete load's timeout), or an operator with ``rorsync resync --full``."""
        queued = [r for r in await pending_requests(self.db) if r.full and r.source in (None, Source.FHIR.value)]
        if not queued:
            await add_request(
                self.db, source=Source.FHIR.value, full=True, organization=None, resource=None, now=self._clock()
            )
        log.warning("fhir: a delta is too large even split by time and region: a complete load is queued")

    async def resync(self, request: ResyncRequest, progress: Progress = NULL_PROGRESS) -> None:
        if request.full:
            await self.reconcile(progress)
            return
        if await self.initial_load_needed():  # nothing to take deltas from yet
            await self.initial_load(progress)
        if not (request.organization or request.resource):
            await self.poll(progress)
            await self.poll_capacity(progress)
            return
        async with self._journaled("resync", request.describe()) as run:
            if request.organization:
                await resync_organization(self.ctx, run, request.organization)
            if request.resource:
                await resync_resource(self.ctx, run, request.resource)
