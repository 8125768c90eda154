"""What a synthetic world covers: the categories of real ROR data, as named facts about the resources."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rorsync import codes
from rorsync.simulator.world.elements import concept_code, level_of, reference_id, sub_extension
from rorsync.simulator.world.index import capacity_code
from rorsync.sources.fhir import profile

Json = dict[str, Any]


def features(resources: Iterable[Json]) -> set[str]:
    """Named facts found in ``resources`` (e.g. ``capacity-status:06``, ``offer-contact-level:3``)."""
    found: set[str] = set()
    offers_by_location: dict[str, list[bool]] = {}
    for resource in resources:
        kind = resource["resourceType"]
        found.add(f"type:{kind}")
        found.update(f"region:{tag['code']}" for tag in resource["meta"]["tag"])
        if any(ext["url"] == profile.EXT_CREATION_DATE for ext in resource.get("extension", ())):
            found.add(f"creation-date:{kind}")
        if kind == "Organization":
            found |= _organization(resource)
        elif kind == "HealthcareService":
            found |= _offer(resource)
            sensitive = _flag(resource, profile.EXT_HS_SENSITIVE_UNIT)
            for ref in resource.get("location", ()):
                offers_by_location.setdefault(reference_id(ref, "Location") or "", []).append(sensitive)
        elif kind == "Location":
            found |= _location(resource)
        elif kind == "PractitionerRole":
            found.add("role:exercise-mode" if resource.get("extension") else "role:bare")
    if any(len(flags) > 1 for flags in offers_by_location.values()):
        found.add("location:shared")
    if any(True in flags and False in flags for flags in offers_by_location.values()):
        found.add("location:shared-sensitive-and-not")
    return found


def _flag(resource: Json, url: str) -> bool:
    return any(ext["url"] == url and ext.get("valueBoolean") for ext in resource.get("extension", ()))


def _organization(resource: Json) -> set[str]:
    found = set()
    systems = {ident.get("system") for ident in resource.get("identifier", ())}
    if profile.SYSTEM_OI in systems:
        found.add(f"oi-level:{concept_code(resource['type'][0])}")
    elif profile.SYSTEM_FINESS in systems:
        found.add("eg")
    elif profile.SYSTEM_SIRENE in systems:
        found.add("ej")
    for ext in resource.get("extension", ()):
        if ext["url"] == profile.EXT_ORGANIZATION_PERIOD and "end" in ext["valuePeriod"]:
            found.add("organization:closed")
        elif ext["url"] == profile.EXT_ORG_DROP_ZONE:
            found.add("eg:drop-zone")
        elif ext["url"] == profile.EXT_ORG_ORSAN:
            found.add("eg:orsan")
        elif ext["url"] == profile.EXT_ORG_CLOSING_TYPE:
            found.add("organization:closing-type")
    for contact in resource.get("contact", ()):
        found.add(f"organization-contact-level:{level_of(contact['extension'], profile.EXT_CONTACT_CONFIDENTIALITY)}")
    return found


def _offer(resource: Json) -> set[str]:
    found = {f"offer-activity:{concept_code(resource['type'][0])}"}
    if _flag(resource, profile.EXT_HS_SENSITIVE_UNIT):
        found.add("offer:sensitive")
    if resource.get("notAvailable"):
        found.add("offer:closed")
    for characteristic in resource.get("characteristic", ()):
        table = codes.table_for_system(characteristic["coding"][0]["system"])
        if table in profile.RESTRICTED_CHARACTERISTIC_TABLES:
            found.add(f"offer-restricted:{table}")
    for ext in resource.get("extension", ()):
        if ext["url"] == profile.EXT_HS_PATIENT_TYPE and sub_extension(ext, profile.PATIENT_TYPE_AGE_RANGE):
            found.add("offer:age-range")
        if ext["url"] == profile.EXT_HS_CONTACT:
            level = level_of(ext["extension"], profile.EXT_CONFIDENTIALITY) or 0
            found.add(f"offer-contact-level:{level}")
            for sub in ext["extension"]:
                if sub["url"] == profile.EXT_HS_CONTACT_TELECOM:
                    telecom_level = level_of(sub["extension"], profile.EXT_TELECOM_CONFIDENTIALITY) or 0
                    found.add(f"offer-telecom-level:{telecom_level}")
                    if telecom_level < level:
                        found.add("offer-telecom:below-contact-level")
    return found


def _location(resource: Json) -> set[str]:
    found = {f"location-status:{resource['operationalStatus']['code']}"}
    if "managingOrganization" in resource:
        found.add("location:managed-by-eg")
    for ident in resource.get("identifier", ()):
        found.add(f"location-identifier:{ident['type']['coding'][0]['code']}")
    for telecom in resource.get("telecom", ()):
        found.add(f"location-telecom-level:{level_of(telecom['extension'], profile.EXT_TELECOM_CONFIDENTIALITY)}")
    for ext in resource.get("extension", ()):
        if ext["url"] == profile.EXT_LOC_RESIDENTIAL_CAPACITY:
            found.add("location:residential")
        elif ext["url"] == profile.EXT_LOC_EQUIPMENT:
            found.add("location:equipment")
        elif ext["url"] == profile.EXT_LOC_SUPPORTED_CAPACITY:
            status = capacity_code(ext, "status")
            found.add(f"capacity-status:{status}")
            for field in ("gender", "closing_type", "additional_bed_type", "crisis_type", "temporary_assignment"):
                code = capacity_code(ext, field)
                if code:
                    found.add(f"capacity-{field}:{code}")
                    found.add(f"capacity-status:{status}+{field}")
            if capacity_code(ext, "temporality") != "01":
                found.add("capacity:forecast")
    return found


def contact_points(body: Json) -> list[Json]:
    """Every telecom of a resource: its own, its contacts', its offer contacts' (extension form)."""
    points = list(body.get("telecom", ()))
    for contact in body.get("contact", ()):
        points += contact.get("telecom", ())
    for ext in body.get("extension", ()):
        if ext["url"] == profile.EXT_HS_CONTACT:
            points += [sub for sub in ext["extension"] if sub["url"] == profile.EXT_HS_CONTACT_TELECOM]
    return points
