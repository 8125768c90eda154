"""EJ and EG as ``organizationDirectory/organization``, pôles / services / UFs as ``facility`` (csd-mev24 §8).

An EJ has no ``parent``; an EG has ``parent`` → its EJ. Closures are ``extension/closingDate`` +
``closingReason`` (TRE_R232 for an EJ, TRE_R233 for an EG). An internal organization's v2.4 closure is
``finalClosingDate`` only: a provisional closure (``PRO``, with a planned reopening) has no v2.4 form
and is not rendered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from lxml import etree

from rorsync import codes
from rorsync.model import OrganizationKind
from rorsync.simulator.csd.nodes import (
    FINESS_AUTHORITY,
    ID_NAT_STRUCT_AUTHORITY,
    OI_AUTHORITY,
    SIRENE_AUTHORITY,
    Nodes,
    add,
    bare_telecoms,
    top,
    xml_boolean,
)
from rorsync.simulator.csd.view import Item

ORGANIZATION_TYPE_TABLES: Final = ("TRE_R72", "TRE_R69", "TRE_R73", "TRE_R66")
CLOSING_TABLES: Final = {OrganizationKind.EJ.value: "TRE_R232", OrganizationKind.EG.value: "TRE_R233"}
PROVISIONAL_CLOSURE: Final = "PRO"
OI_TYPE_TABLE: Final = "TRE_R207"
UCUM_OID: Final = "2.16.840.1.113883.6.8"
AGE_SPAN: Final = (0.0, 150.0)  # patientsType is mandatory on every facility; an OI without offers gets this span


def entity_id(organization_id: str) -> str:
    """The document-local ``entityID`` of an organization (EJ, EG, OI)."""
    return f"o{organization_id}"


def _type_codes(item: Item) -> list[tuple[str, str | None]]:
    """(table, code) of the organization's FHIR ``type`` codings the CSD ``codedType`` can carry."""
    found: list[tuple[str, str | None]] = []
    for concept in item.resource.get("type", ()):
        for coding in concept.get("coding", ()):
            table_id = codes.table_for_system(coding.get("system", ""))
            if table_id in ORGANIZATION_TYPE_TABLES and coding.get("code"):
                found.append((table_id, coding["code"]))
    return found


def _closing_table(kind: str, code: str) -> str:
    table_id = CLOSING_TABLES.get(kind, "TRE_R286")
    return table_id if code in codes.table(table_id).labels else "TRE_R286"


def legal_or_geographic(nodes: Nodes, item: Item, parent_entity: str | None) -> etree._Element:
    """An EJ (``parent_entity`` None) or an EG."""
    row = item.organization
    element = top("organization", entityID=entity_id(item.resource_id))
    if row["id_nat_struct"]:
        nodes.other_id(element, row["id_nat_struct"], ID_NAT_STRUCT_AUTHORITY)
    if row["finess"]:
        nodes.other_id(element, row["finess"], FINESS_AUTHORITY)
    for number in (row["siret"], row["siren"] if not row["siret"] else None):
        if number:
            nodes.other_id(element, number, SIRENE_AUTHORITY)
    for table_id, code in _type_codes(item) or [("TRE_R72", None)]:
        nodes.coded(element, "codedType", table_id, code)
    _names_address_telecoms(nodes, element, item)
    if parent_entity is not None:
        add(element, "parent", entityID=parent_entity)
    _organization_extension(nodes, element, item)
    nodes.record(element, *item.stamps)
    return element


def _names_address_telecoms(nodes: Nodes, element: etree._Element, item: Item) -> None:
    """``primaryName``, ``otherName``, ``address`` and the bare telecoms, shared by organizations and OIs."""
    row = item.organization
    add(element, "primaryName", row["name"] or "")
    if row["alias"]:
        add(element, "otherName", row["alias"])
    nodes.address(element, (row["address_line"], row["postal_code"], row["city"]), item.stamps)
    for telecom in bare_telecoms(item.record.contacts):
        nodes.contact_point(element, telecom, item.stamps)


def _organization_extension(nodes: Nodes, element: etree._Element, item: Item) -> None:
    row = item.organization
    extension = nodes.extension(element)
    nodes.contacts(extension, item.record.contacts, item.stamps)
    if row["drop_zone"] is not None:
        add(extension, "dropZone", xml_boolean(row["drop_zone"]))
    if row["opening_date"] is not None:
        add(extension, "creationDate", row["opening_date"].isoformat())
    if row["closing_date"] is not None:
        add(extension, "closingDate", row["closing_date"].isoformat())
        if row["closing_type_code"]:
            table_id = _closing_table(row["kind"], row["closing_type_code"])
            nodes.coded(extension, "closingReason", table_id, row["closing_type_code"])
    if row["orsan_level_code"]:
        nodes.coded(extension, "levelRecourseORSAN", "TRE_R284", row["orsan_level_code"])
    if not len(extension):
        element.remove(extension)


def internal_organization(
    nodes: Nodes,
    item: Item,
    *,
    establishment_entity: str,
    parent_entity: str | None,
    activity_fields: Sequence[str],
    ages: tuple[float, float] | None,
) -> etree._Element:
    """A pôle, service or UF (TRE_R207 1–3); ``activity_fields`` are the champs of the UEs below it (RG_ALIM_006)."""
    row = item.organization
    element = top("facility", entityID=entity_id(item.resource_id))
    if row["oi_id"]:
        nodes.other_id(element, row["oi_id"], OI_AUTHORITY)
    nodes.coded(element, "codedType", OI_TYPE_TABLE, row["oi_type_code"])
    _names_address_telecoms(nodes, element, item)
    organizations = add(element, "organizations")
    add(organizations, "organization", entityID=establishment_entity)
    extension = nodes.extension(element)
    nodes.contacts(extension, item.record.contacts, item.stamps)
    if row["closing_date"] is not None and row["closing_type_code"] != PROVISIONAL_CLOSURE:
        add(extension, "finalClosingDate", row["closing_date"].isoformat())
    if row["opening_date"] is not None:
        add(extension, "creationDate", row["opening_date"].isoformat())
    for code in activity_fields or [""]:
        nodes.coded(extension, "typeActivity", "TRE_R227", code)
    nodes.coded(extension, "careMode", "TRE_R213", None)
    patients_type(nodes, extension, [], ages or AGE_SPAN, item)
    if parent_entity is not None:
        add(extension, "parentFacility", entityID=parent_entity)
    add(extension, "sensitiveUnit", xml_boolean(False))
    nodes.record(element, *item.stamps)
    return element


def patients_type(
    nodes: Nodes, extension: etree._Element, supported: Sequence[str], ages: tuple[float, float], item: Item
) -> None:
    """``patientsType``: publics (TRE_R239) and the age span (xs:integer values with a UCUM unit)."""
    patients = add(extension, "patientsType")
    for code in supported:
        nodes.coded(patients, "supportedPatient", "TRE_R239", code)
    for name, years in (("patientTypeAgeMin", ages[0]), ("patientTypeAgeMax", ages[1])):
        value, unit = age_measure(years)
        measure = add(patients, name)
        add(measure, "value", str(value))
        add(measure, "unit", unit, code=unit, codingScheme=nodes.oid(UCUM_OID))
    nodes.record(patients, *item.stamps)


def age_measure(years: float) -> tuple[int, str]:
    """An age in years as the integer measure CSD needs: years, else months, else days."""
    for unit, per_year in (("a", 1), ("mo", 12)):
        scaled = years * per_year
        if abs(scaled - round(scaled)) < 1e-6:
            return round(scaled), unit
    return round(years * 365.25), "d"
