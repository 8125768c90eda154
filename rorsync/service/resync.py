"""Manual resync requests inside the daemon: pick them from the database, debounce, merge, serve.

Requests are picked when the queue has been quiet for ``service.resync_debounce`` (or when the
oldest has waited :data:`MAX_DELAY_FACTOR` times that), so a burst of requests becomes one run per
lane. A request whose lanes are all busy right now is picked at once and joins the running work:
a request arriving during a poll and a poll firing during a request both end in one run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import Protocol

from rorsync.config import Settings
from rorsync.logs import fields
from rorsync.model import Source
from rorsync.service.lanes import Outcome, request_lane_key, worst
from rorsync.store.engine import Database
from rorsync.store.requests import StoredRequest, claim_requests, finish_requests, pending_requests
from rorsync.store.state import RunStatus
from rorsync.sync.engine import ResyncRequest
from rorsync.sync.writer import Clock, utcnow

logger = logging.getLogger("rorsync.service")

MAX_DELAY_FACTOR = 5


@dataclass(frozen=True, slots=True)
class Target:
    """One source's share of a request."""

    source: Source
    request: ResyncRequest

    @property
    def lane(self) -> str:
        return request_lane_key(self.source, self.request)


class UnknownSourceError(ValueError):
    pass


def targets_of(stored: StoredRequest, enabled: Iterable[Source]) -> list[Target]:
    """What a stored request asks of each source; raises if it names a source that is not enabled."""
    enabled = list(enabled)
    request = ResyncRequest(full=stored.full, organization=stored.organization, resource=stored.resource)
    if stored.source is None:
        if not enabled:
            raise UnknownSourceError("no source is enabled")
        return [Target(source, request) for source in enabled]
    if stored.source not in {source.value for source in enabled}:
        raise UnknownSourceError(f"the {stored.source} source is not enabled in the daemon's configuration")
    return [Target(Source(stored.source), request)]


def resync_timeout(settings: Settings, request: ResyncRequest) -> dt.timedelta:
    return settings.schedule.full_load_timeout if request.full else settings.schedule.run_timeout


class ResyncHost(Protocol):
    """What the dispatcher needs from the daemon."""

    def enabled(self) -> list[Source]: ...

    def ready(self, source: Source) -> bool:
        """The source's engine is prepared and its initial load is done."""

    def busy(self, target: Target) -> bool: ...

    def serve(self, target: Target) -> Awaitable[Outcome]:
        """Start (or join) the target's work synchronously; await the result for its outcome."""


class ResyncDispatcher:
    def __init__(
        self, db: Database, host: ResyncHost, *, owner: str, debounce: dt.timedelta, clock: Clock = utcnow
    ) -> None:
        self.debounce = debounce
        self._db = db
        self._host = host
        self._owner = owner
        self._clock = clock
        self._serving: set[asyncio.Task[None]] = set()

    async def dispatch_due(self) -> None:
        """One look at the queue: claim what is due and start serving it."""
        pending = await pending_requests(self._db)
        if not pending:
            return
        now = self._clock()
        quiet = now - max(r.requested_at for r in pending) >= self.debounce
        overdue = now - min(r.requested_at for r in pending) >= self.debounce * MAX_DELAY_FACTOR
        due: dict[int, tuple[StoredRequest, list[Target]]] = {}
        for stored in pending:
            try:
                targets = targets_of(stored, self._host.enabled())
            except UnknownSourceError as error:
                await self._refuse(stored, str(error))
                continue
            if not all(self._host.ready(t.source) for t in targets):
                continue  # served once the source is up
            if quiet or overdue or all(self._host.busy(t) for t in targets):
                due[stored.id] = (stored, targets)
        claimed = await claim_requests(self._db, due, by=self._owner, now=now)
        for request_id in sorted(claimed):
            stored, targets = due[request_id]
            waits = [self._host.serve(target) for target in targets]  # synchronous: same lanes merge here
            logger.info(
                "resync request #%d (%s) started",
                request_id,
                _describe(stored),
                extra=fields(request=request_id, lanes=",".join(t.lane for t in targets)),
            )
            task = asyncio.create_task(self._finish(stored, waits), name=f"resync-request-{request_id}")
            self._serving.add(task)
            task.add_done_callback(self._serving.discard)

    async def _finish(self, stored: StoredRequest, waits: list[Awaitable[Outcome]]) -> None:
        outcome = worst(await asyncio.gather(*waits))
        context = fields(request=stored.id, error=outcome.error)
        try:
            await finish_requests(self._db, [stored.id], status=outcome.status, error=outcome.error, now=self._clock())
        except Exception as error:
            logger.error("resync request #%d: cannot record its outcome: %s", stored.id, error, extra=context)
            return
        log = logger.info if outcome.succeeded else logger.warning
        log("resync request #%d (%s) %s", stored.id, _describe(stored), outcome.status, extra=context)

    async def _refuse(self, stored: StoredRequest, reason: str) -> None:
        await finish_requests(self._db, [stored.id], status=RunStatus.FAILED, error=reason, now=self._clock())
        logger.warning("resync request #%d refused: %s", stored.id, reason, extra=fields(request=stored.id))

    async def stop(self) -> None:
        """Stop waiting for the requests being served (the daemon requeues them afterwards)."""
        for task in list(self._serving):
            task.cancel()
        await asyncio.gather(*self._serving, return_exceptions=True)


def _describe(stored: StoredRequest) -> str:
    request = ResyncRequest(full=stored.full, organization=stored.organization, resource=stored.resource)
    return f"{stored.source or 'all sources'}: {request.describe()}"
