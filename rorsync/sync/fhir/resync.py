"""Targeted resync: one organization subtree, or one resource, re-read now.

An operator asks for it when a site's data looks wrong or stale. The subtree of an organization (by
idNatStruct, FINESS, OI identifier, SIREN or SIRET) is its ancestors, its descendants through
``partOf``, the offers they provide with their locations, practitioner roles and practitioners, and
the locations they manage. Nothing is tombstoned here: only a complete load may conclude that
something disappeared.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import orjson

from rorsync.model import Entity, Record, RecordError
from rorsync.sources.fhir import profile
from rorsync.sources.fhir.errors import FhirParseError, ResourceError
from rorsync.sources.fhir.parse import record_from_resource
from rorsync.sync.fhir.context import RESOURCE_ENTITIES, FhirContext, store_page
from rorsync.sync.runs import RunHandle
from rorsync.sync.writer import BatchWriter, store_items

ID_CHUNK = 50  # ids per comma-separated search parameter
IDENTIFIER_SYSTEMS = (
    profile.SYSTEM_ID_NAT_STRUCT,
    profile.SYSTEM_FINESS,
    profile.SYSTEM_OI,
    profile.SYSTEM_SIRENE,
)
SUBTREE_INCLUDES = (
    ("_include", "HealthcareService:location"),
    ("_revinclude", "PractitionerRole:service"),
    ("_include:iterate", "PractitionerRole:practitioner"),
)


class ResyncTargetNotFound(LookupError):
    pass


async def resync_organization(ctx: FhirContext, run: RunHandle, identifier: str) -> None:
    writer = ctx.writer(run)
    query = ",".join(f"{system}|{identifier}" for system in IDENTIFIER_SYSTEMS)
    roots = await _collect(ctx, writer, "Organization", [("identifier", query)])
    if not roots:
        raise ResyncTargetNotFound(f"no organization with identifier {identifier!r} at the source")
    parents = {parent for record in roots.values() if (parent := _parent(record))}
    while parents:  # ancestors (EG → EJ, OI → EG ...), context for the subtree
        found = await _collect(ctx, writer, "Organization", [("_id", ",".join(sorted(parents)))])
        parents = {parent for record in found.values() if (parent := _parent(record))} - set(found)
    organizations = set(roots)
    frontier = set(roots)
    while frontier:
        children: set[str] = set()
        for chunk in _chunks(sorted(frontier)):
            children |= set(await _collect(ctx, writer, "Organization", [("partof", ",".join(chunk))]))
        frontier = children - organizations
        organizations |= children
    for chunk in _chunks(sorted(organizations)):
        await _collect(ctx, writer, "HealthcareService", [("organization", ",".join(chunk)), *SUBTREE_INCLUDES])
        await _collect(ctx, writer, "Location", [("organization", ",".join(chunk))])
    await writer.flush()
    run.extra["organizations"] = len(organizations)


async def resync_resource(ctx: FhirContext, run: RunHandle, reference: str) -> None:
    resource_type, _, resource_id = reference.partition("/")
    if resource_type not in RESOURCE_ENTITIES or not resource_id:
        raise ValueError(f"{reference!r} is not a reference to a mirrored resource (e.g. Location/123)")
    body = await ctx.client.read(resource_type, resource_id)
    if body is None:
        run.failures.append(f"{reference}: not found at the source (only a complete load tombstones it)")
        return
    try:
        resource = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise FhirParseError(f"{reference}: malformed JSON at character {error.pos}: {error.msg}") from None
    item: Record | RecordError | None
    try:
        item = record_from_resource(resource, body)
    except ResourceError as error:
        item = error
    writer = ctx.writer(run)
    if item is not None:
        await store_items(writer, [item])
    await writer.flush()


def _parent(record: Record) -> str | None:
    parent = record.row.get("parent_ref")
    return parent if isinstance(parent, str) else None


async def _collect(
    ctx: FhirContext, writer: BatchWriter, resource_type: str, params: Sequence[tuple[str, str]]
) -> dict[str, Record]:
    """Store every page of a search; return its records of ``resource_type`` by id."""
    entity: Entity = RESOURCE_ENTITIES[resource_type]
    found: dict[str, Record] = {}
    async for page in ctx.client.search(resource_type, params):
        await store_page(writer, page)
        found.update((record.resource_id, record) for record in page.records if record.entity is entity)
    return found


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), ID_CHUNK):
        yield values[start : start + ID_CHUNK]
