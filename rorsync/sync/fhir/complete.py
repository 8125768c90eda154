"""Complete loads — the initial load and the weekly reconcile — and the sweep only they may do.

A complete load reads everything in scope (``$export``, or one paged search per type and region for
scopes under the 10 000-result cap), upserts it in batches and then, **in the transaction of the last
batch**, tombstones what it did not see (rows whose ``last_seen`` predates the load), purges
tombstones past the grace period and moves every delta cursor to the snapshot instant. A load that
fails part-way sweeps nothing: the ROR never reports deletions, so absence from an *incomplete*
load proves nothing.

``$export`` loads are resumable: the job's status URL, start time and the files already stored are
kept in the ``export:job`` cursor, written with each file's last rows. After a crash the next attempt
polls the same job and skips the files done (a job the server no longer knows starts over).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import shutil
from pathlib import Path
from typing import Any

import orjson

from rorsync.model import Record, RecordError, Source
from rorsync.sources.fhir.client import ExportManifest, region_tag
from rorsync.sources.fhir.parse import STREAM_THRESHOLD_BYTES, iter_export_records, read_export_file
from rorsync.store.state import clear_cursor, format_instant, get_cursor, parse_instant
from rorsync.store.sweep import sweep_after_complete_load
from rorsync.store.upsert import WriteContext
from rorsync.sync.fhir.context import RESOURCE_TYPES, FhirContext, delta_stream, store_page
from rorsync.sync.offload import WorkerIterator, run_in_worker
from rorsync.sync.progress import Progress
from rorsync.sync.runs import RunHandle
from rorsync.sync.writer import BatchWriter, store_items
from rorsync.transport import HttpStatusError

log = logging.getLogger(__name__)

EXPORT_STATE = "export:job"
EXPORT_RESUME_WINDOW = dt.timedelta(hours=24)  # an older unfinished job is abandoned, not resumed


async def run_complete_load(ctx: FhirContext, run: RunHandle, progress: Progress) -> None:
    """Load everything in scope, then sweep and move the cursors (all or nothing at the end)."""
    writer = ctx.writer(run, progress)
    if ctx.settings.fhir.initial_load == "export":
        started, snapshot = await _load_by_export(ctx, writer, progress)
    else:
        started, snapshot = await _load_by_search(ctx, writer, progress)
    cursors = await _advanced_cursors(ctx, snapshot)
    regions = set(ctx.regions) or None
    grace = ctx.settings.fhir.tombstone_grace

    async def sweep(write: WriteContext) -> None:
        await clear_cursor(write.conn, Source.FHIR, EXPORT_STATE)
        run.extra.update(await sweep_after_complete_load(write, seen_before=started, grace=grace, regions=regions))

    await writer.flush(cursors=cursors, finalize=sweep)
    progress.finish()


async def _advanced_cursors(ctx: FhirContext, snapshot: dt.datetime) -> dict[str, str]:
    """Every type's cursor moves to the snapshot, unless a delta already took it further."""
    cursors = {}
    async with ctx.db.read() as conn:
        for resource_type in RESOURCE_TYPES:
            current = await get_cursor(conn, Source.FHIR, delta_stream(resource_type))
            newest = max(snapshot, parse_instant(current)) if current else snapshot
            cursors[delta_stream(resource_type)] = format_instant(newest)
    return cursors


# --- paged search (small scopes) -----------------------------------------------------------------------


async def _load_by_search(ctx: FhirContext, writer: BatchWriter, progress: Progress) -> tuple[dt.datetime, dt.datetime]:
    """One search per type and region; each is complete or the load fails (no silent truncation)."""
    started = ctx.clock()
    server_times: list[dt.datetime] = []
    tags = [[("_tag", region_tag(region))] for region in ctx.regions] or [[]]
    progress.start("fhir complete load (search)")
    for tag in tags:
        for resource_type in RESOURCE_TYPES:
            async for page in ctx.client.search(resource_type, tag, started=server_times):
                await store_page(writer, page)
    # The snapshot is the server's time when the load began: anything changed later is re-read.
    return started, min(server_times, default=started)


# --- $export -----------------------------------------------------------------------------------------


async def _load_by_export(ctx: FhirContext, writer: BatchWriter, progress: Progress) -> tuple[dt.datetime, dt.datetime]:
    state = await _resumable_state(ctx)
    resumed = state is not None
    if state is None:
        status_url, kicked_off = await ctx.client.start_export(RESOURCE_TYPES, ctx.regions)
        state = {
            "status_url": status_url,
            "kicked_off": format_instant(kicked_off),
            "started": format_instant(ctx.clock()),
            "done": [],
        }
        await writer.flush(cursors={EXPORT_STATE: orjson.dumps(state).decode()})
    else:
        log.info("resuming $export job %s (%d files already stored)", state["status_url"], len(state["done"]))
    try:
        manifest = await ctx.client.wait_export(
            state["status_url"],
            kicked_off=parse_instant(state["kicked_off"]),
            give_up_after=ctx.settings.fhir.export_wait_max,
        )
    except HttpStatusError as error:
        if error.status not in (404, 410) or not resumed:
            raise
        log.warning("the server no longer knows $export job %s; starting a new one", state["status_url"])
        async with ctx.db.write() as conn:
            await clear_cursor(conn, Source.FHIR, EXPORT_STATE)
        return await _load_by_export(ctx, writer, progress)
    await _load_files(ctx, writer, progress, manifest, state)
    return parse_instant(state["started"]), manifest.transaction_time


async def _resumable_state(ctx: FhirContext) -> dict[str, Any] | None:
    async with ctx.db.read() as conn:
        saved = await get_cursor(conn, Source.FHIR, EXPORT_STATE)
    if not saved:
        return None
    state: dict[str, Any] = orjson.loads(saved)
    if ctx.clock() - parse_instant(state["started"]) > EXPORT_RESUME_WINDOW:
        log.info("abandoning $export job %s started at %s", state["status_url"], state["started"])
        return None
    return state


async def _load_files(
    ctx: FhirContext, writer: BatchWriter, progress: Progress, manifest: ExportManifest, state: dict[str, Any]
) -> None:
    """Download and parse file i+1 while storing file i; each file's rows commit with the resume state."""
    job = hashlib.sha256(manifest.status_url.encode()).hexdigest()[:16]
    directory = ctx.settings.state_dir / "export" / job
    directory.mkdir(parents=True, exist_ok=True)
    pending = [(i, out) for i, out in enumerate(manifest.outputs) if out.url not in state["done"]]
    progress.start(f"fhir complete load ($export, {len(manifest.outputs)} files)")

    async def fetch(position: int) -> Path | list[Record | RecordError]:
        index, output = pending[position]
        path = await ctx.client.download(output.url, directory / f"{index:05d}.json")
        if path.stat().st_size > STREAM_THRESHOLD_BYTES:
            return path  # streamed in batches when its turn comes
        items = await run_in_worker(read_export_file, path)
        path.unlink()
        return items

    ahead: asyncio.Future[Path | list[Record | RecordError]] | None = None
    try:
        for position, (_, output) in enumerate(pending):
            fetched = await (ahead or fetch(position))
            ahead = asyncio.ensure_future(fetch(position + 1)) if position + 1 < len(pending) else None
            count = await _store_file(writer, fetched)
            if position == 0:
                progress.set_total(count * len(pending))
            state["done"].append(output.url)
            await writer.flush(cursors={EXPORT_STATE: orjson.dumps(state).decode()})
    finally:
        if ahead is not None and not ahead.done():
            ahead.cancel()
        shutil.rmtree(directory, ignore_errors=True)


async def _store_file(writer: BatchWriter, fetched: Path | list[Record | RecordError]) -> int:
    if not isinstance(fetched, Path):
        return await store_items(writer, fetched)
    count = 0
    async with WorkerIterator(iter_export_records, fetched, batch_size=writer.batch_size) as batches:
        async for batch in batches:
            count += await store_items(writer, batch)
    await asyncio.to_thread(fetched.unlink)
    return count
