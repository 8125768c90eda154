"""Tombstones and purge: the only way rows leave the mirror.

The ROR never reports deletions, so absence from a *complete* load is the only evidence. The sync
engine calls :func:`tombstone_unseen` only after a full load finished without error; rows that the
load did not touch (``last_seen`` before the load started) get ``deleted_at`` and a change-log
entry. Rows written by a delta during the load have a later ``last_seen`` and survive. Closures
are data and never pass through here. Physical deletion happens only after a grace period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import and_, delete, update

from rorsync import metrics
from rorsync.model import Entity
from rorsync.store import schema
from rorsync.store.upsert import WriteContext, chunked, log_changes


async def tombstone_unseen(
    ctx: WriteContext, entity: Entity, *, seen_before: dt.datetime, regions: Collection[str] | None = None
) -> int:
    """Tombstone live rows of ``entity`` not seen since ``seen_before``; returns how many.

    ``regions`` restricts the sweep to what the complete load covered (a regional load must never
    tombstone other regions); rows without a region are swept only by an unrestricted load.
    """
    table = schema.ENTITY_TABLES[entity]
    condition = and_(table.c.source == ctx.source.value, table.c.deleted_at.is_(None), table.c.last_seen < seen_before)
    if regions is not None:
        condition = and_(condition, table.c.region.in_(sorted(regions)))
    result = await ctx.conn.execute(
        update(table).where(condition).values(deleted_at=ctx.seen_at).returning(table.c.resource_id)
    )
    swept = [(row.resource_id, "tombstone") for row in result]
    await log_changes(ctx, entity, swept)
    metrics.RECORDS_WRITTEN.labels(ctx.source.value, entity.value, "tombstoned").inc(len(swept))
    return len(swept)


async def purge_tombstones(ctx: WriteContext, entity: Entity, *, deleted_before: dt.datetime) -> int:
    """Physically delete rows tombstoned before ``deleted_before`` (the grace period has passed)."""
    table = schema.ENTITY_TABLES[entity]
    result = await ctx.conn.execute(
        delete(table)
        .where(table.c.source == ctx.source.value, table.c.deleted_at < deleted_before)
        .returning(table.c.pk, table.c.resource_id)
    )
    purged = [(row.pk, row.resource_id) for row in result]
    for owned in (schema.entity_code, schema.contact):
        for chunk in chunked([pk for pk, _ in purged]):
            await ctx.conn.execute(
                delete(owned).where(owned.c.owner_entity == entity.value, owned.c.owner_pk.in_(chunk))
            )
    await log_changes(ctx, entity, [(resource_id, "purge") for _, resource_id in purged])
    metrics.RECORDS_WRITTEN.labels(ctx.source.value, entity.value, "purged").inc(len(purged))
    return len(purged)
