"""An offer (HealthcareService) as a UE ``facility`` (TRE_R207 ``4``), with its services and devices.

* ``otherID`` is the offer identifier ``<region>/<n>``; ``organizations/organization`` points to the
  EG and cites one ``serviceDirectory/service`` per activité opérationnelle (TRE_R211, the offer's
  activity families on the first); ``extension/parentFacility`` points to the providing UF, if any.
* The offer's first Location becomes ``extension/location`` (status TRE_R203 3/2/1 for OP/FT/FD) with
  its capacities (see :mod:`.capacities`), residential capacity and equipment
  (``equipment/@entityID`` → ``deviceDirectory/device``). A UE has room for one location only.
* A definitive closure (``notAvailable`` + ``DEF``) is ``finalClosingDate`` (the Paris date of the
  closure); v2.4 has no provisional closure of an offer.
* ``restricted`` (``restrictedOrganisation=1``, RG_ALIM_015) keeps the UE without its sub-classes:
  no capacities, resources, equipment, reception type, specialities, specific acts, location, etc.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from lxml import etree

from rorsync.model import EquipmentRow, LocationRow
from rorsync.simulator.csd import capacities
from rorsync.simulator.csd.nodes import OI_AUTHORITY, Nodes, add, bare_telecoms, top, xml_boolean
from rorsync.simulator.csd.organizations import AGE_SPAN, OI_TYPE_TABLE, PROVISIONAL_CLOSURE, patients_type
from rorsync.simulator.csd.view import UE_TYPE, Item
from rorsync.simulator.world.instants import PARIS

MEDICO_SOCIAL: Final = "04"
LOCATION_STATUS: Final = {"OP": "3", "FT": "2", "FD": "1"}  # operational status → TRE_R203
COORDINATE_SYSTEM: Final = "WGS84"


def offer_entity(offer_id: str) -> str:
    return f"hs{offer_id}"


def device_entity(location_id: str, index: int) -> str:
    return f"l{location_id}-e{index}"


@dataclass(slots=True)
class UnitParts:
    """A UE facility and the directory entries it cites (devices may be shared by several UEs)."""

    facility: etree._Element
    services: list[etree._Element] = field(default_factory=list)
    devices: dict[str, etree._Element] = field(default_factory=dict)


def unit(
    nodes: Nodes,
    offer: Item,
    *,
    establishment_entity: str,
    parent_entity: str | None,
    location: Item | None,
    restricted: bool,
) -> UnitParts:
    row = offer.offer
    entity = offer_entity(offer.resource_id)
    facility = top("facility", entityID=entity)
    parts = UnitParts(facility)
    if row["offer_identifier"]:
        nodes.other_id(facility, row["offer_identifier"], OI_AUTHORITY)
    nodes.coded(facility, "codedType", OI_TYPE_TABLE, UE_TYPE)
    add(facility, "primaryName", row["name"] or "")
    organizations = add(facility, "organizations")
    cited = add(organizations, "organization", entityID=establishment_entity)
    families = offer.codes("activity_family")
    for index, code in enumerate(offer.codes("specialty")):
        service = top("service", entityID=f"{entity}-s{index}")
        nodes.coded(service, "codedType", "TRE_R211", code)
        if index == 0 and families:
            extension = nodes.extension(service)
            for family in families:
                nodes.coded(extension, "actFamily", "JDV_J51", family)
        nodes.record(service, *offer.stamps)
        parts.services.append(service)
        add(cited, "service", entityID=service.get("entityID", ""))
    _extension(
        nodes,
        parts,
        offer,
        parent_entity=parent_entity,
        location=None if restricted else location,
        restricted=restricted,
    )
    nodes.record(facility, *offer.stamps)
    return parts


def _extension(
    nodes: Nodes, parts: UnitParts, offer: Item, *, parent_entity: str | None, location: Item | None, restricted: bool
) -> None:
    row = offer.offer
    extension = nodes.extension(parts.facility)
    nodes.contacts(extension, offer.record.contacts, offer.stamps)
    for telecom in bare_telecoms(offer.record.contacts):
        mailbox = add(extension, "mailBoxMSS")
        nodes.contact_point(mailbox, telecom, offer.stamps)
        nodes.record(mailbox, *offer.stamps)
    if row["closed_from"] is not None and row["closing_type_code"] != PROVISIONAL_CLOSURE:
        add(extension, "finalClosingDate", row["closed_from"].astimezone(PARIS).date().isoformat())
    add(extension, "creationDate", offer.created.astimezone(PARIS).date().isoformat())
    nodes.coded(extension, "typeActivity", "TRE_R227", row["activity_field_code"])
    nodes.coded(extension, "careMode", "TRE_R213", row["care_mode_code"])
    ages = (
        row["age_min"] if row["age_min"] is not None else AGE_SPAN[0],
        row["age_max"] if row["age_max"] is not None else AGE_SPAN[1],
    )
    patients_type(nodes, extension, offer.codes("patient_type"), ages, offer)
    if location is not None:
        _capacities(nodes, extension, location)
    if not restricted:
        _resources(nodes, extension, offer)
    if location is not None:
        for index, equipment in enumerate(location.record.equipment):
            device = device_entity(location.resource_id, index)
            add(extension, "equipment", entityID=device)
            parts.devices[device] = _device(nodes, device, equipment, location)
    if not restricted:
        _codes(nodes, extension, offer, "receptionType", kinds="reception_type", table_id="TRE_R240", single=True)
        _codes(nodes, extension, offer, "takingCareSpeciality", kinds="taking_care_speciality", table_id="TRE_R245")
    if row["category_code"] and (not restricted or row["activity_field_code"] == MEDICO_SOCIAL):
        nodes.coded(extension, "facilityType", "TRE_R244", row["category_code"])
    if location is not None:
        _location(nodes, extension, location)
    if not restricted:
        _codes(nodes, extension, offer, "annualOpenning", kinds="annual_opening", table_id="TRE_R238", single=True)
        for sector in offer.codes("psychiatric_sector"):
            add(extension, "psychiatricSector", sector)
        _codes(
            nodes, extension, offer, "specificAct", kinds=("specific_act", "outside_office_act"), table_id="TRE_R210"
        )
    if parent_entity is not None:
        add(extension, "parentFacility", entityID=parent_entity)
    if not restricted:
        _codes(nodes, extension, offer, "managementType", kinds="management_type", table_id="TRE_R236")
        _codes(
            nodes, extension, offer, "maternityHospitalType", kinds="expertise_level", table_id="TRE_R253", single=True
        )
    add(extension, "sensitiveUnit", xml_boolean(row["sensitive"]))


def _codes(
    nodes: Nodes,
    extension: etree._Element,
    offer: Item,
    name: str,
    *,
    kinds: str | tuple[str, ...],
    table_id: str,
    single: bool = False,
) -> None:
    found = offer.codes(*((kinds,) if isinstance(kinds, str) else kinds))
    for code in found[:1] if single else found:
        nodes.coded(extension, name, table_id, code)


def _resources(nodes: Nodes, extension: etree._Element, offer: Item) -> None:
    professions = offer.codes("resource_profession")
    skills = offer.codes("specific_competence")
    if not professions and not skills:
        return
    resources = add(extension, "resourcesSkills")
    for code in professions:
        nodes.coded(resources, "profession", "TRE_G15", code)
    for code in skills:
        nodes.coded(resources, "specificSkills", "TRE_R243", code)
    nodes.record(resources, *offer.stamps)


def _capacities(nodes: Nodes, extension: etree._Element, location: Item) -> None:
    lines = location.record.capacities
    accommodations = capacities.accommodation(lines)
    if accommodations:
        element = add(extension, "accommodationCapacity")
        for found in accommodations:
            attributes = {}
            if found.total is not None:
                attributes["total"] = str(found.total.nb)
            if found.available is not None:
                attributes["avaible"] = str(found.available.nb)
            if found.updated is not None:
                attributes["updateDate"] = nodes.timestamp(found.updated)
            add(element, found.element, **attributes)
        nodes.record(element, *location.stamps)
    crisis = capacities.crisis(lines)
    if crisis is not None:
        element = add(extension, "crisisAccomodationCapacity")
        add(element, "crisisCapacityT0", str(crisis[0].nb))
        add(element, "crisisCapacityT60", str(crisis[1].nb))
        nodes.record(element, *location.stamps)
    for residential in location.record.residential:
        element = add(extension, "residentialCapactity")
        nodes.coded(element, "residentialType", "TRE_R242", residential["residential_type_code"])
        if residential["number"] is not None:
            add(element, "residentialNumber", str(residential["number"]))
        nodes.record(element, *location.stamps)


def _location(nodes: Nodes, extension: etree._Element, location: Item) -> None:
    row: LocationRow = location.record.row  # type: ignore[assignment]
    element = add(extension, "location")
    if row["name"] is not None:
        add(element, "name", row["name"])
    if row["description"] is not None:
        add(element, "description", row["description"])
    status = LOCATION_STATUS.get(row["operational_status"] or "")
    if status is not None:
        nodes.coded(element, "status", "TRE_R203", status)
    nodes.address(element, (row["address_line"], row["postal_code"], row["city"]), location.stamps)
    if row["latitude"] is not None and row["longitude"] is not None:
        coordinates = add(element, "geoCoordinates")
        add(coordinates, "latitude", decimal_text(row["latitude"]))
        add(coordinates, "longitude", decimal_text(row["longitude"]))
        add(coordinates, "coordinateSystem", COORDINATE_SYSTEM)
        nodes.record(coordinates, *location.stamps)
    nodes.coded(element, "cityNumber", "TRE_R13", row["commune_cog"])
    nodes.record(element, *location.stamps)


def _device(nodes: Nodes, entity: str, equipment: EquipmentRow, location: Item) -> etree._Element:
    device = top("device", entityID=entity)
    nodes.coded(device, "codedType", "TRE_R212", equipment["equipment_type_code"])
    if equipment["nb_in_service"] is not None:
        add(nodes.extension(device), "nbInService", str(equipment["nb_in_service"]))
    nodes.record(device, *location.stamps)
    return device


def decimal_text(value: float) -> str:
    """An xs:decimal (no exponent) that reads back as the same float."""
    text = repr(value)
    return text if "e" not in text else f"{value:.12f}".rstrip("0")
