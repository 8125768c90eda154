"""Tombstones and purge: the only way rows leave the mirror.

The ROR never reports deletions, so absence from a *complete* load is the only evidence. The sync
engine calls :func:`tombstone_unseen` only after a full load finished without error; rows that the
load did not touch (``last_seen`` before the load started) get ``deleted_at`` and a change-log
entry. Rows written by a delta during the load have a later ``last_seen`` and survive. Closures
are data and never pass through here. Physical deletion happens only after a grace period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from sqlalchemy import ColumnElement, Table, and_, delete, select, update

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
    condition = table.c.last_seen < seen_before
    if regions is not None:
        condition = and_(condition, table.c.region.in_(sorted(regions)))
    return await _tombstone(ctx, entity, condition)


async def sweep_after_complete_load(
    ctx: WriteContext, *, seen_before: dt.datetime, grace: dt.timedelta, regions: Collection[str] | None = None
) -> dict[str, int]:
    """The end of a complete load, in the transaction of its last rows: tombstone every entity's
    unseen rows, purge the tombstones older than ``grace``; returns the counts for the run journal."""
    counts = {}
    for entity in Entity:
        counts[f"tombstoned_{entity.value}"] = await tombstone_unseen(
            ctx, entity, seen_before=seen_before, regions=regions
        )
        counts[f"purged_{entity.value}"] = await purge_tombstones(ctx, entity, deleted_before=ctx.seen_at - grace)
    return counts


async def tombstone_unseen_below(ctx: WriteContext, root: str, *, seen_before: dt.datetime) -> dict[Entity, int]:
    """Tombstone what hangs below the organization ``root`` and was not seen since ``seen_before``.

    For a source that answers one establishment at a time (CSD TR-Lecture), the complete answer for
    one EG is evidence about its subtree only: its internal organisations (through ``parent_ref``,
    at any depth), the offers they or the EG provide, those offers' locations and the locations the
    EG manages, and the practitioner roles attached to any of them. The root itself, its ancestors
    and the practitioners (who may work elsewhere) are left to a complete load.
    """
    conn = ctx.conn
    organization, offer, location, role = schema.organization, schema.offer, schema.location, schema.practitioner_role
    tree = (
        select(organization.c.resource_id)
        .where(organization.c.source == ctx.source.value, organization.c.parent_ref == root)
        .cte("subtree", recursive=True)
    )
    tree = tree.union(  # UNION, not UNION ALL: a cycle in bad data ends the recursion instead of looping
        select(organization.c.resource_id).where(
            organization.c.source == ctx.source.value, organization.c.parent_ref == tree.c.resource_id
        )
    )
    # The subtree is small (tens of rows) and each step below reads it through an index; one statement
    # joining it all lets SQLite's planner scan every row of the source instead (seconds per EG).
    internal = list((await conn.execute(select(tree.c.resource_id))).scalars())
    owners = [root, *internal]
    offers = await _rows_of(ctx, offer, offer.c.organization_ref, owners)
    offer_ids = [resource_id for _, resource_id in offers]
    links = schema.offer_location
    linked: set[str] = set()
    for chunk in chunked([pk for pk, _ in offers]):
        linked.update((await conn.execute(select(links.c.location_ref).where(links.c.offer_pk.in_(chunk)))).scalars())
    managed = await _rows_of(ctx, location, location.c.managing_organization_ref, owners)
    by_organization = await _rows_of(ctx, role, role.c.organization_ref, owners)
    by_offer = await _rows_of(ctx, role, role.c.offer_ref, offer_ids)
    candidates = {
        Entity.PRACTITIONER_ROLE: sorted({resource_id for _, resource_id in by_organization + by_offer}),
        Entity.LOCATION: sorted(linked | {resource_id for _, resource_id in managed}),
        Entity.OFFER: offer_ids,
        Entity.ORGANIZATION: internal,
    }
    # Dependents first, so that a follower of the change log never sees one outlive its parent.
    swept = {}
    for entity, resource_ids in candidates.items():
        table = schema.ENTITY_TABLES[entity]
        swept[entity] = 0
        for chunk in chunked(resource_ids):
            unseen = and_(table.c.resource_id.in_(chunk), table.c.last_seen < seen_before)
            swept[entity] += await _tombstone(ctx, entity, unseen)
    return swept


async def _rows_of(
    ctx: WriteContext, table: Table, key: ColumnElement[str], values: Sequence[str]
) -> list[tuple[int, str]]:
    """(pk, resource_id) of the source's rows whose ``key`` is one of ``values``, looked up through
    ``key``'s index (the source is checked on the rows found, so it cannot steer the plan)."""
    found: list[tuple[int, str]] = []
    query = select(table.c.pk, table.c.resource_id, table.c.source)
    for chunk in chunked(values):
        rows = await ctx.conn.execute(query.where(key.in_(chunk)))
        found += [(pk, resource_id) for pk, resource_id, source in rows if source == ctx.source.value]
    return found


async def _tombstone(ctx: WriteContext, entity: Entity, condition: ColumnElement[bool]) -> int:
    """Tombstone the live rows of ``ctx.source`` matching ``condition``, with their change-log entries."""
    table = schema.ENTITY_TABLES[entity]
    live = and_(table.c.source == ctx.source.value, table.c.deleted_at.is_(None), condition)
    result = await ctx.conn.execute(
        update(table).where(live).values(deleted_at=ctx.seen_at).returning(table.c.resource_id)
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
