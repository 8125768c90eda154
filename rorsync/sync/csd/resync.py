"""Targeted resync over CSD: one establishment, one legal entity's establishments, or one internal organisation.

An identifier with a ``/`` is an internal organisation (``<région>/<n>``): it is read with
TR-Lecture-OffresSanteOrganisationInterne, which returns it, its subtree and its ancestors as
context — upserted, never swept (one OI's answer says nothing of its siblings). Any other identifier
(idNatStruct, FINESS, SIREN, SIRET) is looked up in the mirror: an EG is read in full, an EJ has
each of its EGs read in full, and each full read sweeps the EG's own subtree. An identifier the
mirror does not know is taken as the idNatStruct of an EG (a 9-character FINESS as ``1`` + FINESS),
so a new establishment can be fetched before any TR-Notif lists it.
"""

from __future__ import annotations

from rorsync.model import OrganizationKind, Source
from rorsync.store.lookup import establishment_ids, find_organizations
from rorsync.sync.csd.context import CsdContext, log_warnings
from rorsync.sync.csd.lecture import read_establishments
from rorsync.sync.progress import Progress
from rorsync.sync.runs import RunHandle
from rorsync.sync.writer import store_items

FINESS_LENGTH = 9


class ResyncTargetNotFound(LookupError):
    pass


async def resync_identifier(ctx: CsdContext, run: RunHandle, identifier: str, progress: Progress) -> None:
    identifier = identifier.strip()
    writer = ctx.writer(run)
    if "/" in identifier:
        result = await ctx.client.lecture_organisation(identifier)
        await store_items(writer, [*result.records, *result.errors])
        log_warnings(run, result.warnings)
        await writer.flush()
        return
    establishments = await establishments_for(ctx, identifier)
    progress.start(f"csd resync of {identifier} ({len(establishments)} establishments)", len(establishments))
    await read_establishments(ctx, run, writer, dict.fromkeys(establishments), progress)
    await writer.flush()
    run.extra["organizations"] = len(establishments)


async def establishments_for(ctx: CsdContext, identifier: str) -> list[str]:
    """The EGs to read for ``identifier``: itself, or the EGs of an EJ, or the identifier taken as an EG."""
    async with ctx.db.read() as conn:
        known = await find_organizations(conn, Source.CSD, identifier)
        establishments: set[str] = set()
        for organization in known:
            if organization.kind == OrganizationKind.EJ:
                establishments.update(await establishment_ids(conn, Source.CSD, under=organization.resource_id))
            elif organization.kind == OrganizationKind.EG:
                establishments.add(organization.resource_id)
    if establishments:
        return sorted(establishments)
    if known:
        raise ResyncTargetNotFound(f"{identifier!r} is known to the mirror, but no establishment (EG) under it is")
    return [f"1{identifier}" if len(identifier) == FINESS_LENGTH else identifier]
