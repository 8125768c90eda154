"""Complete loads of the CSD source — the initial load and the weekly reconcile.

With ``csd.extraction_url``, a complete load is the TR-Extraction ZIP: downloaded to the state
directory, **every part checked against its SHA-256 sidecar before anything is parsed** (a corrupted
download fails the run without touching the mirror), then streamed part by part in constant memory
(parsed in worker processes, a share of the parts each, while this process writes) and upserted in
batches. Only then, in the transaction of the last batch, does it tombstone what the extraction did
not hold and move the TR-Notif cursor to the extraction's own time.

What may be tombstoned is bounded by the extraction's time, not the load's: an extraction can be
hours or days old, and an object a TR-Notif cycle mirrored after it was taken is not in it without
being gone. So only rows last seen before the extraction (minus ``csd.overlap``, for clock skew)
are swept.

Without an extraction URL (a regional ROR that offers none), a complete load asks TR-Notif for every
establishment changed since :data:`EPOCH` — all of them — and reads each one in full; each full read
sweeps its own subtree, but nothing else is tombstoned, since no complete list proves an EG gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import shutil

from rorsync.model import Record, RecordError
from rorsync.sources.csd.extraction import ExtractionPart, VerifiedExtraction, read_share, verify_extraction
from rorsync.sources.csd.resolver import ParseWarning
from rorsync.store.state import format_instant
from rorsync.store.sweep import sweep_after_complete_load
from rorsync.store.upsert import WriteContext
from rorsync.sync.csd.context import (
    NOTIF_STREAM,
    CsdContext,
    cycle_cursors,
    log_warnings,
    merge_targets,
    read_notif_cursor,
    read_pending,
)
from rorsync.sync.csd.lecture import read_establishments
from rorsync.sync.offload import WorkerIterator, merge_batches, shutdown_worker
from rorsync.sync.progress import Progress
from rorsync.sync.runs import RunHandle
from rorsync.sync.writer import BatchWriter, store_items

log = logging.getLogger(__name__)

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
"""A ``dateRef`` before any ROR record: TR-Notif then lists every establishment in scope."""


async def run_complete_load(ctx: CsdContext, run: RunHandle, progress: Progress) -> None:
    if ctx.settings.csd.extraction_url:
        await _load_by_extraction(ctx, run, progress)
    else:
        await _load_by_lecture(ctx, run, progress)


async def _load_by_extraction(ctx: CsdContext, run: RunHandle, progress: Progress) -> None:
    directory = ctx.settings.state_dir / "csd-extraction"
    directory.mkdir(parents=True, exist_ok=True)
    try:
        downloaded = await ctx.client.download_extraction(directory / "extraction.zip")
        verified = await asyncio.to_thread(
            verify_extraction, downloaded.path, max_part_bytes=ctx.settings.csd.max_part_bytes
        )
        writer = ctx.writer(run, progress)
        description = f"csd extraction ({len(verified.parts)} parts)"
        readers = reader_count(ctx.settings.csd.extraction_readers)
        await load_extraction(writer, run, verified, progress, description, readers=readers)
        async with ctx.db.read() as conn:
            current = await read_notif_cursor(conn)
        cursor = max(downloaded.extracted_at, current) if current else downloaded.extracted_at
        seen_before = downloaded.extracted_at - ctx.settings.csd.overlap
        grace = ctx.settings.csd.tombstone_grace

        async def sweep(write: WriteContext) -> None:
            run.extra.update(await sweep_after_complete_load(write, seen_before=seen_before, grace=grace))

        await writer.flush(cursors={NOTIF_STREAM: format_instant(cursor)}, finalize=sweep)
        progress.finish()
        log.info("csd: extraction of %s loaded", downloaded.extracted_at.isoformat())
    finally:
        shutil.rmtree(directory, ignore_errors=True)


DEFAULT_MAX_READERS = 4
BATCHES_AHEAD = 3  # batches parsed ahead of the writer, across all readers (each ~15 MB in this process)


def reader_count(configured: int | None) -> int:
    """Worker processes for parsing extraction parts: as configured, else one per core, at most
    :data:`DEFAULT_MAX_READERS` (the writer, in this process, becomes the bottleneck beyond)."""
    return configured or min(DEFAULT_MAX_READERS, os.cpu_count() or 1)


async def load_extraction(
    writer: BatchWriter,
    run: RunHandle,
    extraction: VerifiedExtraction,
    progress: Progress,
    description: str,
    *,
    readers: int = 1,
) -> int:
    """Stream every record of a verified extraction into ``writer``; returns how many.

    The parts are parsed in ``readers`` worker processes (a share of the parts each, see
    ``read_share``) while the records already received are written. The progress total is
    estimated from the first part read (records per byte).
    """
    progress.start(description)
    shares = max(1, min(readers, len(extraction.parts)))
    ahead = max(1, BATCHES_AHEAD // shares)  # more would only wait here, in memory: the writer is the bound
    warnings: list[ParseWarning] = []
    count = 0
    estimated = False
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(asyncio.to_thread, shutdown_worker, slots=range(1, shares))
        readers_of_shares = [
            WorkerIterator(read_share, extraction, share, shares, batch_size=writer.batch_size, ahead=ahead, slot=share)
            for share in range(shares)
        ]
        streams = [await stack.enter_async_context(reader) for reader in readers_of_shares]
        async for batch in merge_batches(streams):
            items: list[Record | RecordError] = []
            for event in batch:
                if isinstance(event, Record | RecordError):
                    items.append(event)
                elif isinstance(event, ExtractionPart):
                    if not estimated:  # the first part read gives the records per byte (each reader's)
                        read = event.size * shares
                        progress.set_total(round((count + len(items)) * extraction.size / read) or None)
                        estimated = True
                else:
                    warnings.append(event)
            count += await store_items(writer, items)
    log_warnings(run, warnings)
    run.extra["parts"] = len(extraction.parts)
    return count


async def _load_by_lecture(ctx: CsdContext, run: RunHandle, progress: Progress) -> None:
    started = ctx.clock()
    answer = await ctx.client.notif(EPOCH)
    cycle_start = min(started, answer.server_time or started)
    async with ctx.db.read() as conn:
        pending = await read_pending(conn)
    listed = {entry.id_nat_struct: None for entry in answer.establishments.establishments}
    targets = merge_targets(listed, pending)
    progress.start(f"csd complete load ({len(targets)} establishments by TR-Lecture)", len(targets))
    writer = ctx.writer(run)
    failed = await read_establishments(ctx, run, writer, targets, progress)
    await writer.flush(cursors=cycle_cursors(cycle_start, failed))
