"""Reads of the mirror that tell a sync engine what to fetch next (its own rows, never the views)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from rorsync.model import OrganizationKind, Source
from rorsync.store import schema


@dataclass(frozen=True, slots=True)
class OrganizationRef:
    resource_id: str
    kind: str  # OrganizationKind value
    parent_ref: str | None


async def find_organizations(conn: AsyncConnection, source: Source, identifier: str) -> list[OrganizationRef]:
    """Organizations of ``source`` (tombstoned ones included) known by ``identifier``: their id,
    idNatStruct, FINESS, SIREN, SIRET or internal-organisation identifier."""
    organization = schema.organization
    columns = ("resource_id", "id_nat_struct", "finess", "siren", "siret", "oi_id")
    query = select(organization.c.resource_id, organization.c.kind, organization.c.parent_ref).where(
        organization.c.source == source.value, or_(*(organization.c[column] == identifier for column in columns))
    )
    return [OrganizationRef(row.resource_id, row.kind, row.parent_ref) for row in await conn.execute(query)]


async def establishment_ids(conn: AsyncConnection, source: Source, *, under: str | None = None) -> list[str]:
    """The resource ids of the source's EGs, sorted (a stable order for rotations): the live ones, or,
    ``under`` a legal entity, all of its EGs, tombstoned included (a resync may bring one back)."""
    organization = schema.organization
    condition = and_(organization.c.source == source.value, organization.c.kind == OrganizationKind.EG.value)
    if under is None:
        condition = and_(condition, organization.c.deleted_at.is_(None))
    else:
        condition = and_(condition, organization.c.parent_ref == under)
    query = select(organization.c.resource_id).where(condition).order_by(organization.c.resource_id)
    return list((await conn.execute(query)).scalars())
