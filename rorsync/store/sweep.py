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

from sqlalchemy import ColumnElement, and_, delete, literal, or_, select, union, update

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
    organization, offer, location, role = schema.organization, schema.offer, schema.location, schema.practitioner_role
    source = ctx.source.value
    tree = (
        select(organization.c.resource_id)
        .where(organization.c.source == source, organization.c.parent_ref == root)
        .cte("subtree", recursive=True)
    )
    tree = tree.union(  # UNION, not UNION ALL: a cycle in bad data ends the recursion instead of looping
        select(organization.c.resource_id).where(
            organization.c.source == source, organization.c.parent_ref == tree.c.resource_id
        )
    )
    owners = union(select(tree.c.resource_id), select(literal(root, organization.c.resource_id.type)))
    offers = select(offer.c.resource_id).where(offer.c.source == source, offer.c.organization_ref.in_(owners))
    offer_locations = (
        select(schema.offer_location.c.location_ref)
        .join(offer, offer.c.pk == schema.offer_location.c.offer_pk)
        .where(offer.c.source == source, offer.c.organization_ref.in_(owners))
    )
    seen = {
        Entity.ORGANIZATION: organization.c.resource_id.in_(select(tree.c.resource_id)),
        Entity.OFFER: offer.c.organization_ref.in_(owners),
        Entity.LOCATION: or_(
            location.c.managing_organization_ref.in_(owners), location.c.resource_id.in_(offer_locations)
        ),
        Entity.PRACTITIONER_ROLE: or_(role.c.organization_ref.in_(owners), role.c.offer_ref.in_(offers)),
    }
    # Dependents first, so that a follower of the change log never sees one outlive its parent.
    swept = {}
    for entity in (Entity.PRACTITIONER_ROLE, Entity.LOCATION, Entity.OFFER, Entity.ORGANIZATION):
        table = schema.ENTITY_TABLES[entity]
        swept[entity] = await _tombstone(ctx, entity, and_(seen[entity], table.c.last_seen < seen_before))
    return swept


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
