"""Reading establishments with TR-Lecture: many requests in flight, one writer, per-EG outcomes.

TR-Lecture has no paging and answers one establishment (EG) at a time, so a cycle sends up to
``csd.http.max_concurrency`` requests at once and stores each answer as it arrives. Two kinds of
read:

* **delta** (a ``dateRef``): the EG subtree if it changed after that instant. Its records are
  upserted; absence proves nothing.
* **full** (no ``dateRef``, no filter, no restriction): the EG's whole offer. It is also evidence
  about what the EG no longer has, so its records and the tombstones of the unseen part of its
  subtree (``tombstone_unseen_below``) commit in one transaction.

A business refusal for one EG (error 444 in-band or as a SOAP Fault) or an unreadable answer is that
EG's failure: recorded in the run journal with its code and message, returned to the caller (which
keeps the EG pending), while the others proceed. A transport failure (retries exhausted, TLS) fails
the whole run: the server is unwell, and the cursor must not move.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass

from rorsync.sources.csd.errors import CsdResponseError, CsdServiceError
from rorsync.sources.csd.parse import LectureResult
from rorsync.store.sweep import tombstone_unseen_below
from rorsync.store.upsert import WriteContext
from rorsync.sync.csd.context import CsdContext, Targets, log_warnings
from rorsync.sync.progress import Progress
from rorsync.sync.runs import RunHandle
from rorsync.sync.writer import BatchWriter, store_items

log = logging.getLogger(__name__)

EstablishmentFailure = CsdServiceError | CsdResponseError


@dataclass(frozen=True, slots=True)
class _Answer:
    establishment: str
    asked_at: dt.datetime  # local time the request was sent: rows older than it and unseen are gone
    outcome: LectureResult | EstablishmentFailure


async def read_establishments(
    ctx: CsdContext, run: RunHandle, writer: BatchWriter, targets: Targets, progress: Progress
) -> Targets:
    """Read every target, hand what comes back to ``writer``; returns the targets that failed.

    The caller flushes ``writer`` last, with the cursors the reads justify.
    """
    failed: Targets = {}

    async def fetch(establishment: str) -> _Answer:
        since = targets[establishment]
        asked_at = ctx.clock()
        try:
            outcome: LectureResult | EstablishmentFailure = await ctx.client.lecture_establishment(
                establishment, since=since
            )
        except (CsdServiceError, CsdResponseError) as error:
            outcome = error
        return _Answer(establishment, asked_at, outcome)

    width = 2 * ctx.settings.csd.http.max_concurrency
    async for answer in _as_completed(sorted(targets), fetch, width):
        if isinstance(answer.outcome, LectureResult):
            await _store(writer, run, answer, full=targets[answer.establishment] is None)
        else:
            failed[answer.establishment] = targets[answer.establishment]
            run.failures.append(f"establishment {answer.establishment}: {answer.outcome}")
            log.warning("csd: establishment %s not read: %s", answer.establishment, answer.outcome)
        progress.advance()
    run.extra["establishments"] = run.extra.get("establishments", 0) + len(targets)
    return failed


async def _store(writer: BatchWriter, run: RunHandle, answer: _Answer, *, full: bool) -> None:
    result = answer.outcome
    assert isinstance(result, LectureResult)
    await store_items(writer, [*result.records, *result.errors])
    log_warnings(run, result.warnings)
    if not full:
        return
    if result.errors:  # an object that could not be read is no evidence that the others are gone
        log.warning(
            "csd: establishment %s: %d unreadable objects kept aside, no absence sweep this time",
            answer.establishment,
            len(result.errors),
        )
        run.extra["sweeps_skipped"] = run.extra.get("sweeps_skipped", 0) + 1
        return

    async def sweep(write: WriteContext) -> None:
        swept = await tombstone_unseen_below(write, answer.establishment, seen_before=answer.asked_at)
        for entity, count in swept.items():
            if count:
                key = f"tombstoned_{entity.value}"
                run.extra[key] = run.extra.get(key, 0) + count

    await writer.flush(finalize=sweep)


async def _as_completed(
    keys: Iterable[str], fetch: Callable[[str], Awaitable[_Answer]], width: int
) -> AsyncIterator[_Answer]:
    """``fetch`` every key with at most ``width`` in flight; answers in completion order.

    An exception from ``fetch`` (a transport failure) cancels what is still in flight and propagates.
    """
    waiting = iter(keys)
    running: set[asyncio.Task[_Answer]] = set()

    def launch() -> None:
        while len(running) < width and (key := next(waiting, None)) is not None:
            running.add(asyncio.ensure_future(fetch(key)))

    launch()
    try:
        while running:
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done, key=lambda task: task.exception() is not None):  # answers before a failure
                running.discard(task)
                yield task.result()
            launch()
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
