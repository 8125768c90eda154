"""``_lastUpdated`` deltas: one resource type at a time, complete or not at all.

The query is ``_lastUpdated=ge{cursor − overlap}`` (``ge``, never ``gt``, and an overlap so that late
commits — changes that become visible with a timestamp older than what was already served — are
caught). Results are not sorted, so rows are committed page by page but the cursor moves only when
the whole delta is complete, in the transaction of its last rows, to the largest
``meta.lastUpdated`` received — never to the local clock.

A delta above the 10 000-result cap is split rather than given up: by time window (bisecting the
interval, which bounds every window whatever the volume) and, when one instant alone holds too
many changes (a bulk update), by region. Only if even that is not enough does the run fail, and the
engine queues a complete load (``$export``). A search that delivers fewer results than it announced fails the run: its
cursor does not move and the next run reads the same window again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from rorsync import codes
from rorsync.model import Source
from rorsync.sources.fhir.client import SearchTruncated, region_tag
from rorsync.sources.fhir.parse import SearchPage
from rorsync.store.state import format_instant, get_cursor, parse_instant
from rorsync.sync.fhir.context import FhirContext, delta_stream, store_page
from rorsync.sync.runs import RunHandle
from rorsync.sync.writer import BatchWriter

log = logging.getLogger(__name__)

MIN_WINDOW = dt.timedelta(milliseconds=1)


class CursorMissing(RuntimeError):
    """A delta was asked for a type that has never been loaded completely."""


class DeltaTooLarge(RuntimeError):
    """Even split by time and region, a delta exceeds the result cap: a complete load is needed."""


async def run_delta(ctx: FhirContext, run: RunHandle, resource_type: str) -> int:
    """Fetch and store everything of ``resource_type`` changed since its cursor; returns resources received."""
    async with ctx.db.read() as conn:
        cursor = await get_cursor(conn, Source.FHIR, delta_stream(resource_type))
    if cursor is None:
        raise CursorMissing(f"no cursor for {resource_type}: the initial load has not completed")
    since = parse_instant(cursor) - ctx.settings.fhir.overlap
    writer = ctx.writer(run)
    fetch = _WindowFetcher(ctx, writer, resource_type)
    tags = [[("_tag", region_tag(region))] for region in ctx.regions] or [[]]
    for tag in tags:
        await fetch.window(since, None, tag)
    newest = max(fetch.newest, parse_instant(cursor))
    await writer.flush(cursors={delta_stream(resource_type): format_instant(newest)})
    run.extra[f"received_{resource_type}"] = fetch.received
    return fetch.received


class _WindowFetcher:
    def __init__(self, ctx: FhirContext, writer: BatchWriter, resource_type: str) -> None:
        self.ctx, self.writer, self.resource_type = ctx, writer, resource_type
        self.newest = dt.datetime.min.replace(tzinfo=dt.UTC)
        self.received = 0

    async def window(
        self,
        lower: dt.datetime,
        upper: dt.datetime | None,
        tag: Sequence[tuple[str, str]],
        end: dt.datetime | None = None,
    ) -> None:
        """Fetch ``[lower, upper)`` (``upper`` None: open-ended); ``end`` bounds the halving of an open window."""
        params = [("_lastUpdated", f"ge{format_instant(lower)}")]
        if upper is not None:
            params.append(("_lastUpdated", f"lt{format_instant(upper)}"))
        started: list[dt.datetime] = []
        try:
            async for page in self.ctx.client.search(self.resource_type, [*params, *tag], started=started):
                await self._store(page)
        except SearchTruncated as truncated:
            if truncated.total <= self.ctx.client.result_cap:
                raise  # fewer results than announced: not a volume problem, fail and retry later
            end = upper or end or (started[0] if started else self.ctx.clock())
            await self._split(lower, upper, end, tag, truncated)

    async def _split(
        self,
        lower: dt.datetime,
        upper: dt.datetime | None,
        end: dt.datetime,
        tag: Sequence[tuple[str, str]],
        truncated: SearchTruncated,
    ) -> None:
        """Halve ``[lower, end)``; the upper half keeps ``upper``, so that an open window stays open and
        nothing stamped after the server's clock (a skewed front end) is left out."""
        if end - lower > MIN_WINDOW:
            middle = lower + (end - lower) / 2
            log.info("%s; splitting the window at %s", truncated, format_instant(middle))
            await self.window(lower, middle, tag)
            await self.window(middle, upper, tag, end)
        elif not tag:
            log.info("%s within one instant; splitting by region", truncated)
            for region in codes.table("TRE_R30").current_codes():
                await self.window(lower, upper, [("_tag", region_tag(region))], end)
        else:
            raise DeltaTooLarge(f"{truncated} even for one region and one instant") from truncated

    async def _store(self, page: SearchPage) -> None:
        await store_page(self.writer, page)
        for record in page.records:
            self.newest = max(self.newest, record.last_updated)
        self.received += len(page.records) + len(page.errors)
