"""One ROR FHIR resource (parsed JSON) → one :class:`~rorsync.model.Record`; one mapper per resource type.

Resource types the mirror does not keep (Task, Questionnaire, OperationOutcome, Measure, Person...)
map to ``None`` so that pages and export files can carry them without errors; a ``resourceType``
that FHIR R4 does not define is an error. Unknown extensions are not mapped: they stay in the raw
payload kept with every record.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

import orjson

from rorsync.model import Entity, EntityRow, Record
from rorsync.sources.fhir.errors import ResourceError
from rorsync.sources.fhir.mapping.children import Children
from rorsync.sources.fhir.mapping.common import (
    JSON,
    FieldError,
    coding_code,
    index_extensions,
    json_type,
    opt_list,
    opt_obj,
    parse_datetime,
    table_for_system,
)
from rorsync.sources.fhir.mapping.location import map_location
from rorsync.sources.fhir.mapping.offer import map_offer
from rorsync.sources.fhir.mapping.organization import map_organization
from rorsync.sources.fhir.mapping.practitioner import map_practitioner, map_practitioner_role
from rorsync.sources.fhir.resource_types import R4_RESOURCE_TYPES

Mapper = Callable[[JSON, dict[str, list[JSON]], Children], EntityRow]

MAPPERS: Final[dict[str, tuple[Entity, Mapper]]] = {
    "Organization": (Entity.ORGANIZATION, map_organization),
    "HealthcareService": (Entity.OFFER, map_offer),
    "Location": (Entity.LOCATION, map_location),
    "Practitioner": (Entity.PRACTITIONER, map_practitioner),
    "PractitionerRole": (Entity.PRACTITIONER_ROLE, map_practitioner_role),
}

FHIR_ID: Final = re.compile(r"[A-Za-z0-9\-.]{1,64}")
REGION_TABLE: Final = "TRE_R30"


def _region(meta: JSON) -> str | None:
    """Source region: the ``meta.tag`` from TRE_R30 (by URL or OID); ``None`` when the server sent none."""
    for index, tag in enumerate(opt_list(meta, "tag")):
        try:
            code, system = coding_code(tag)
        except FieldError as error:
            raise error.within(f"meta.tag[{index}]") from None
        if code and table_for_system(system) == REGION_TABLE:
            return code
    return None


def record_from_resource(resource: dict[str, Any], payload: bytes | None = None) -> Record | None:
    """Map one ROR resource to a record, or ``None`` for a FHIR resource type the mirror does not keep.

    ``payload`` is the resource's raw bytes when the caller has them; otherwise the resource is
    serialised with ``orjson`` (compact, keys in received order). Raises
    :class:`~rorsync.sources.fhir.errors.ResourceError` (a ``RecordError``) naming ``Type/id`` and
    the element when the resource cannot become a record: missing or invalid id, missing or
    unparseable ``meta.lastUpdated``, unknown ``resourceType``, JSON values of the wrong type...
    """
    if type(resource) is not dict:
        raise ResourceError("resource", f"expected a JSON object, got {json_type(resource)}", payload or b"")
    resource_type = resource.get("resourceType")
    raw_id = resource.get("id")
    where = f"{resource_type}/{raw_id if type(raw_id) is str else '?'}"
    if type(resource_type) is not str:
        raise ResourceError(where, "resourceType: missing or not a string", payload or orjson.dumps(resource))
    mapping = MAPPERS.get(resource_type)
    if mapping is None:
        if resource_type in R4_RESOURCE_TYPES:
            return None
        raise ResourceError(
            where,
            f"resourceType: {resource_type!r} is not a FHIR R4 resource type",
            payload or orjson.dumps(resource),
            resource_type=resource_type,
        )
    entity, mapper = mapping
    resource_id = raw_id if type(raw_id) is str else None
    try:
        if resource_id is None or not FHIR_ID.fullmatch(resource_id):
            raise FieldError("id", f"missing or not a FHIR id: {raw_id!r}")
        meta = opt_obj(resource, "meta")
        if meta is None or meta.get("lastUpdated") is None:
            raise FieldError("meta.lastUpdated", "missing")
        last_updated = parse_datetime(meta["lastUpdated"], "meta.lastUpdated")
        region = _region(meta)
        children = Children()
        row = mapper(resource, index_extensions(resource), children)
    except FieldError as error:
        reason = f"{error.path}: {error.reason}"
        raise ResourceError(where, reason, payload or orjson.dumps(resource), resource_type, resource_id) from None
    except (AttributeError, TypeError, ValueError, KeyError, IndexError) as error:
        reason = f"unexpected structure ({type(error).__name__}: {error})"
        raise ResourceError(where, reason, payload or orjson.dumps(resource), resource_type, resource_id) from error
    return Record(
        entity=entity,
        resource_id=resource_id,
        last_updated=last_updated,
        region=region,
        payload=orjson.dumps(resource) if payload is None else payload,
        row=row,
        codes=children.codes,
        contacts=children.contacts,
        capacities=children.capacities,
        equipment=children.equipment,
        residential=children.residential,
        location_refs=children.location_refs,
    )
