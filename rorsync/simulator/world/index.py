"""What the world indexes about a resource: the search columns, read from the FHIR JSON itself.

Pure: a resource dict in, its index rows out. The store writes them next to the JSON so that searches,
includes and the access-policy context never need to parse bodies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rorsync.policy.rules import MEDICO_SOCIAL_ACTIVITY_FIELD, capacity_class
from rorsync.simulator.world.elements import Json, concept_code, extension_value, reference_id, sub_extension
from rorsync.simulator.world.instants import parse_instant
from rorsync.sources.fhir import profile

# (source type, search parameter) → (element path, target type): the references searches can follow.
LINKS: dict[tuple[str, str], tuple[str, str]] = {
    ("HealthcareService", "organization"): ("providedBy", "Organization"),
    ("HealthcareService", "location"): ("location", "Location"),
    ("Organization", "partof"): ("partOf", "Organization"),
    ("PractitionerRole", "practitioner"): ("practitioner", "Practitioner"),
    ("PractitionerRole", "service"): ("healthcareService", "HealthcareService"),
    ("PractitionerRole", "organization"): ("organization", "Organization"),
    ("Location", "organization"): ("managingOrganization", "Organization"),
    ("Location", "partof"): ("partOf", "Location"),
}


@dataclass(frozen=True, slots=True)
class CapacityIndex:
    status: str
    nb: int
    updated: int | None  # capacityUpdateDate, µs
    element_class: str  # rorsync.policy.rules.ElementClass value
    temporary_assignment: str


@dataclass(slots=True)
class ResourceIndex:
    resource_type: str
    resource_id: str
    region: str | None
    last_updated: int
    tokens: list[tuple[str, str, str]] = field(default_factory=list)  # (parameter, system, code)
    links: list[tuple[str, str, str]] = field(default_factory=list)  # (parameter, target type, target id)
    capacity: list[CapacityIndex] = field(default_factory=list)
    sensitive: bool = False  # HealthcareService only; derived for the others by the store
    medico_social: bool = False


def index_resource(resource: Json) -> ResourceIndex:
    """Index columns of one ROR resource; raises ``ValueError`` naming the resource when meta is unusable."""
    resource_type = resource["resourceType"]
    where = f"{resource_type}/{resource.get('id')}"
    try:
        last_updated = parse_instant(resource["meta"]["lastUpdated"])
    except (KeyError, ValueError) as error:
        raise ValueError(f"{where}: meta.lastUpdated is missing or not an instant") from error
    tags = resource["meta"].get("tag") or [{}]
    found = ResourceIndex(resource_type, resource["id"], tags[0].get("code"), last_updated)
    for ident in resource.get("identifier", ()):
        found.tokens.append(("identifier", ident.get("system", ""), ident.get("value", "")))
    for (source, parameter), (element, target) in LINKS.items():
        if source != resource_type:
            continue
        value = resource.get(element)
        for ref in value if isinstance(value, list) else [value]:
            target_id = reference_id(ref, target)
            if target_id is not None:
                found.links.append((parameter, target, target_id))
    if resource_type == "HealthcareService":
        found.sensitive = bool(extension_value(resource, profile.EXT_HS_SENSITIVE_UNIT, "valueBoolean"))
        found.medico_social = any(
            concept_code(kind) == MEDICO_SOCIAL_ACTIVITY_FIELD for kind in resource.get("type", ())
        )
    elif resource_type == "Location":
        found.tokens.append(("status", "", resource.get("status", "")))
        status = resource.get("operationalStatus") or {}
        found.tokens.append(("operational-status", status.get("system", ""), status.get("code", "")))
        found.capacity = [
            _capacity(ext)
            for ext in resource.get("extension", ())
            if ext.get("url") == profile.EXT_LOC_SUPPORTED_CAPACITY
        ]
    return found


def capacity_code(line: Json, field: str) -> str:
    """A code of a capacity indicator by model field name (``status``, ``crisis_type``…), ``""`` if absent."""
    sub = sub_extension(line, profile.CAPACITY_SUBEXTENSION_URLS[field])
    return concept_code(sub.get("valueCodeableConcept")) if sub else ""


def capacity_count(line: Json) -> int:
    found = sub_extension(line, profile.CAPACITY_NB)
    return int(found["valueInteger"]) if found else 0


def _capacity(line: Json) -> CapacityIndex:
    updated = sub_extension(line, profile.CAPACITY_UPDATE_DATE)
    status = capacity_code(line, "status")
    return CapacityIndex(
        status=status,
        nb=capacity_count(line),
        updated=parse_instant(updated["valueDateTime"]) if updated else None,
        element_class=capacity_class(
            status, capacity_code(line, "additional_bed_type"), capacity_code(line, "crisis_type")
        ).value,
        temporary_assignment=capacity_code(line, "temporary_assignment"),
    )
