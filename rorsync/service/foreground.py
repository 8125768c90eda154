"""A resync run once by the calling process, when no daemon is there to take the request.

Shares the daemon's lanes, so the run has the same timeout, outcome and logging as in the service.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rorsync.config import Settings
from rorsync.service.engines import build_engines, enabled_sources
from rorsync.service.lanes import Lane, LineSink, Outcome, Work, worst
from rorsync.service.resync import Target, resync_timeout, targets_of
from rorsync.store.engine import Database
from rorsync.store.requests import StoredRequest
from rorsync.sync.engine import SourceEngine
from rorsync.sync.progress import Progress


async def resync_in_foreground(
    settings: Settings,
    db: Database,
    stored: StoredRequest,
    *,
    progress: Callable[[LineSink], Progress] | None = None,
) -> Outcome:
    """Prepare the engines the request needs, run it on every source at once, close the engines."""
    targets = targets_of(stored, enabled_sources(settings))
    engines = {engine.source: engine for engine in build_engines(settings, db, {t.source for t in targets})}
    lanes = [Lane(target.lane, target.source, progress=progress) for target in targets]
    try:
        waits = [
            lane.submit(
                _prepared_resync(engines[target.source], target),
                timeout=resync_timeout(settings, target.request),
                description=f"{target.source.value} resync: {target.request.describe()}",
                long=True,
            )
            for lane, target in zip(lanes, targets, strict=True)
        ]
        return worst(await asyncio.gather(*waits))
    finally:
        stopping = [task for lane in lanes if (task := lane.cancel()) is not None]
        if stopping:
            await asyncio.wait(stopping)  # interrupted runs are journaled before the engines close
        for engine in engines.values():
            await engine.aclose()


def _prepared_resync(engine: SourceEngine, target: Target) -> Work:
    async def run(progress: Progress) -> None:
        await engine.prepare()
        await engine.resync(target.request, progress)

    return run
