"""``facilityDirectory/facility`` → a draft OI or offer; ``service`` and ``device`` entries it references.

A facility of TRE_R207 type 1–3 (pôle, service, UF) is an internal organization; type 4 (unité
élémentaire) is an offer, with its ``extension/location`` as a location record (csd-mev24 §8).

v2.4 capacities are mapped onto the location's capacity indicators (inferred, no official mapping):

=================================================  =========================================
CSD                                                capacity row (type / status / temporality)
=================================================  =========================================
``accommodationCapacity/beds/@total``              01 lit / 01 installé / 01 courant
``accommodationCapacity/beds/@avaible``            01 lit / 02 disponible / 01 courant
``accommodationCapacity/space/@…``                 same with 02 place
``crisisAccomodationCapacity/crisisCapacityT0``    01 lit / 06 supplémentaire / 01 courant
``crisisAccomodationCapacity/crisisCapacityT60``   01 lit / 06 supplémentaire / 02 prévisionnel 1 h
=================================================  =========================================

``residentialCapactity`` (sic) gives residential rows, ``equipment/@entityID`` → ``deviceDirectory``
gives equipment rows. Misspellings of the XSD and of the schematrons are both accepted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from lxml import etree

from rorsync.model import CapacityRow, CodeRow, EquipmentRow, LocationRow, ResidentialCapacityRow
from rorsync.sources.csd.elements import (
    Contacts,
    Origin,
    add_code,
    address_parts,
    boolean,
    canonical,
    child,
    children,
    code_of,
    decimal,
    integer,
    table_of,
    text,
    updated_of,
)
from rorsync.sources.csd.times import parse_date, parse_datetime

OFFER_TYPE_CODE: Final = "4"  # TRE_R207 unité élémentaire
OI_TYPE_TABLE: Final = "TRE_R207"

_YEARS_PER_UNIT: Final = {"a": 1.0, "ann": 1.0, "mo": 1 / 12, "wk": 7 / 365.25, "d": 1 / 365.25}
_RESIDENTIAL: Final = frozenset({"residentialCapactity", "residentialCapacity"})
_CRISIS: Final = frozenset({"crisisAccomodationCapacity", "crisisAccommodationCapacity"})
_RESOURCES: Final = frozenset({"resourcesSkills", "ressourcesSkills"})
_RESOURCE_KINDS: Final = {
    "profession": "resource_profession",
    "medicalSpeciality": "resource_profession",  # ordinal specialty of the resource (TRE_R38)
    "specificSkills": "specific_competence",
}
_SIMPLE_CODE_KINDS: Final = {
    "receptionType": "reception_type",
    "takingCareSpeciality": "taking_care_speciality",
    "annualOpenning": "annual_opening",
    "annualOpening": "annual_opening",
    "specificAct": "specific_act",
    "managementType": "management_type",
    "maternityHospitalType": "expertise_level",
}


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    """A ``serviceDirectory/service`` (activité opérationnelle), kept for the facilities that cite it."""

    codes: tuple[CodeRow, ...]
    origin: Origin


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    """A ``deviceDirectory/device`` (équipement spécifique), kept for the locations that cite it."""

    row: EquipmentRow
    origin: Origin


def _empty_location() -> LocationRow:
    return LocationRow(
        location_identifier=None,
        external_sync_id=None,
        name=None,
        description=None,
        function_code=None,
        operational_status=None,
        status=None,
        address_line=None,
        postal_code=None,
        city=None,
        commune_cog=None,
        latitude=None,
        longitude=None,
        managing_organization_ref=None,
        part_of_ref=None,
    )


@dataclass(slots=True)
class LocationDraft:
    """The location of an offer: its ``extension/location`` and the capacities the facility lists.

    ``parts`` keeps those elements (canonical XML): with the devices the location cites, they are the
    location record's payload. The rest of the facility is the offer's, so a change of, say, the
    offer's contacts does not make its location look changed (nor store the facility twice).
    """

    row: LocationRow = field(default_factory=_empty_location)
    parts: list[bytes] = field(default_factory=list)
    updated: dt.datetime | None = None  # latest record/@updated of the location and capacity elements
    present: bool = False  # an extension/location element was there
    capacities: list[CapacityRow] = field(default_factory=list)
    residential: list[ResidentialCapacityRow] = field(default_factory=list)
    device_entities: list[str] = field(default_factory=list)

    @property
    def has_content(self) -> bool:
        return self.present or bool(self.capacities or self.residential or self.device_entities)


@dataclass(slots=True)
class FacilityDraft:
    """Everything a facility says by itself; ids of what it references are resolved later."""

    origin: Origin
    oi_id: str | None
    type_code: str | None
    parent_entity: str | None  # v2.4 extension/parentFacility
    organization_entities: list[str]  # organizations/organization: the EG (v2.4) or the parent (v0.1.5 mock)
    service_entities: list[str]
    name: str | None = None
    alias: str | None = None
    address: tuple[str | None, str | None, str | None] = (None, None, None)
    opening_date: dt.date | None = None
    final_closing_date: dt.date | None = None
    activity_field: str | None = None
    care_mode: str | None = None
    category: str | None = None
    sensitive: bool = False
    age_min: float | None = None
    age_max: float | None = None
    codes: list[CodeRow] = field(default_factory=list)
    contacts: Contacts = field(default_factory=Contacts)
    location: LocationDraft = field(default_factory=LocationDraft)

    @property
    def is_offer(self) -> bool:
        return self.type_code == OFFER_TYPE_CODE


def read_service(service: etree._Element) -> ServiceEntry:
    rows: list[CodeRow] = []
    for name, part in children(service):
        if name == "codedType":
            add_code(rows, "specialty", part)
        elif name == "extension":
            for family in part.iterchildren("{*}actFamily"):
                add_code(rows, "activity_family", family)
    return ServiceEntry(tuple(rows), Origin.of(service))


def read_device(device: etree._Element) -> DeviceEntry:
    type_code = None
    in_service = None
    for name, part in children(device):
        if name == "codedType":
            type_code = code_of(part)
        elif name == "extension":
            in_service = integer(text(child(part, "nbInService")))
    row = EquipmentRow(equipment_type_code=type_code, nb_in_service=in_service, limits=None)
    return DeviceEntry(row, Origin.of(device))


# TRE_R203 StatutLieu → (operational status, FHIR Location.status)
_LOCATION_STATUS: Final = {"3": ("OP", "active"), "2": ("FT", "suspended"), "1": ("FD", "inactive")}
_CAPACITY_TYPE: Final = {"beds": "01", "space": "02"}  # TRE_R329 lit / place


def _later(current: dt.datetime | None, candidate: dt.datetime | None) -> dt.datetime | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate > current else current


def _read_location(location: etree._Element, draft: LocationDraft) -> None:
    row = draft.row
    draft.present = True
    draft.parts.append(canonical(location))
    for name, part in children(location):
        if name == "name":
            row["name"] = text(part)
        elif name == "description":
            row["description"] = text(part)
        elif name == "status":
            row["operational_status"], row["status"] = _LOCATION_STATUS.get(code_of(part) or "", (None, None))
        elif name == "cityNumber":
            row["commune_cog"] = code_of(part)
        elif name == "address":
            row["address_line"], row["postal_code"], row["city"] = address_parts(part)
        elif name == "geoCoordinates":
            row["latitude"] = decimal(text(child(part, "latitude")))
            row["longitude"] = decimal(text(child(part, "longitude")))
        elif name == "record":
            draft.updated = _later(draft.updated, updated_of(location)[0])


def _capacity(
    capacity_type: str, status: str, nb: int, updated_at: dt.datetime | None, temporality: str = "01"
) -> CapacityRow:
    row: CapacityRow = {  # a literal: this runs for every capacity line, and is faster than a call
        "capacity_type": capacity_type,
        "status": status,
        "temporality": temporality,
        "gender": "",
        "closing_type": "",
        "additional_bed_type": "",
        "crisis_type": "",
        "temporary_assignment": "",
        "nb": nb,
        "source_type": None,
        "updated_at": updated_at,
        "comment": None,
    }
    return row


def _read_accommodation(capacity: etree._Element, draft: LocationDraft) -> None:
    draft.parts.append(canonical(capacity))
    for name, part in children(capacity):
        capacity_type = _CAPACITY_TYPE.get(name)
        if capacity_type is None:
            if name == "record":
                draft.updated = _later(draft.updated, updated_of(capacity)[0])
            continue
        updated_at = parse_datetime(part.get("updateDate") or "")
        draft.updated = _later(draft.updated, updated_at)  # new counts move the location's version
        total = integer(part.get("total"))
        if total is not None:
            draft.capacities.append(_capacity(capacity_type, "01", total, updated_at))
        available = integer(part.get("avaible", part.get("available")))  # XSD typo, schematron spelling
        if available is not None:
            draft.capacities.append(_capacity(capacity_type, "02", available, updated_at))


def _read_crisis(capacity: etree._Element, draft: LocationDraft) -> None:
    draft.parts.append(canonical(capacity))
    updated = updated_of(capacity)[0]
    draft.updated = _later(draft.updated, updated)
    for name, temporality in (("crisisCapacityT0", "01"), ("crisisCapacityT60", "02")):
        nb = integer(text(child(capacity, name)))
        if nb is not None:
            draft.capacities.append(_capacity("01", "06", nb, updated, temporality))


def _read_residential(capacity: etree._Element, draft: LocationDraft) -> None:
    draft.parts.append(canonical(capacity))
    type_code = number = None
    for name, part in children(capacity):
        if name == "residentialType":
            type_code = code_of(part)
        elif name == "residentialNumber":
            number = integer(part.text)
        elif name == "record":
            draft.updated = _later(draft.updated, updated_of(capacity)[0])
    draft.residential.append(ResidentialCapacityRow(residential_type_code=type_code, number=number))


def _age_in_years(measure: etree._Element) -> float | None:
    value = None
    factor = 1.0
    for name, part in children(measure):
        if name == "value":
            value = decimal(part.text)
        elif name == "unit":
            factor = _YEARS_PER_UNIT.get(code_of(part) or "a", 1.0)
    return None if value is None else round(value * factor, 4)


def _read_patients(patients: etree._Element, draft: FacilityDraft) -> None:
    for name, part in children(patients):
        if name == "supportedPatient":
            add_code(draft.codes, "patient_type", part)
        elif name == "patientTypeAgeMin":
            draft.age_min = _age_in_years(part)
        elif name == "patientTypeAgeMax":
            draft.age_max = _age_in_years(part)


Reader = Callable[[etree._Element, FacilityDraft], None]


def _code_reader(kind: str) -> Reader:
    def read(part: etree._Element, draft: FacilityDraft) -> None:
        add_code(draft.codes, kind, part)

    return read


def _read_resources(resources: etree._Element, draft: FacilityDraft) -> None:
    for name, skill in children(resources):
        kind = _RESOURCE_KINDS.get(name)
        if kind is not None:
            add_code(draft.codes, kind, skill)


def _read_activity_field(part: etree._Element, draft: FacilityDraft) -> None:
    if draft.activity_field is None:  # a UE has exactly one (RG_EXP_010)
        draft.activity_field = code_of(part)


def _read_care_mode(part: etree._Element, draft: FacilityDraft) -> None:
    draft.care_mode = code_of(part)


def _read_category(part: etree._Element, draft: FacilityDraft) -> None:
    draft.category = code_of(part)


def _read_sensitive(part: etree._Element, draft: FacilityDraft) -> None:
    draft.sensitive = boolean(part) or False


def _read_equipment(part: etree._Element, draft: FacilityDraft) -> None:
    device = part.get("entityID")
    if device:
        draft.location.device_entities.append(device)


def _read_intervention_zone(part: etree._Element, draft: FacilityDraft) -> None:
    zone = child(part, "codedType")
    if zone is not None:
        add_code(draft.codes, "intervention_zone", zone)


def _read_psychiatric_sector(part: etree._Element, draft: FacilityDraft) -> None:
    sector = text(part)
    if sector:
        draft.codes.append(CodeRow(kind="psychiatric_sector", table_id=None, code=sector))


def _read_parent(part: etree._Element, draft: FacilityDraft) -> None:
    draft.parent_entity = part.get("entityID") or None


def _read_final_closing(part: etree._Element, draft: FacilityDraft) -> None:
    draft.final_closing_date = parse_date(part.text or "")


def _read_creation(part: etree._Element, draft: FacilityDraft) -> None:
    draft.opening_date = parse_date(part.text or "")


def _read_contact(part: etree._Element, draft: FacilityDraft) -> None:
    draft.contacts.add_ror(part)


def _read_mailbox(mailbox: etree._Element, draft: FacilityDraft) -> None:
    contact_point = child(mailbox, "contactPoint")
    if contact_point is not None:
        draft.contacts.add_telecom(contact_point)


def _read_oi_commune(location: etree._Element, draft: FacilityDraft) -> None:
    city = child(location, "cityNumber")
    if city is not None:
        draft.location.row["commune_cog"] = code_of(city)


_COMMON_READERS: Final[dict[str, Reader]] = {
    "parentFacility": _read_parent,
    "finalClosingDate": _read_final_closing,
    "contact": _read_contact,
    "mailBoxMSS": _read_mailbox,
}
_OI_READERS: Final[dict[str, Reader]] = {  # an OI row keeps its place, dates, contacts and commune only
    **_COMMON_READERS,
    "creationDate": _read_creation,
    "location": _read_oi_commune,
}
_OFFER_READERS: Final[dict[str, Reader]] = {
    **_COMMON_READERS,
    **{name: _code_reader(kind) for name, kind in _SIMPLE_CODE_KINDS.items()},
    **dict.fromkeys(_RESOURCES, _read_resources),
    **dict.fromkeys(_RESIDENTIAL, lambda part, draft: _read_residential(part, draft.location)),
    **dict.fromkeys(_CRISIS, lambda part, draft: _read_crisis(part, draft.location)),
    "typeActivity": _read_activity_field,
    "careMode": _read_care_mode,
    "patientsType": _read_patients,
    "accommodationCapacity": lambda part, draft: _read_accommodation(part, draft.location),
    "location": lambda part, draft: _read_location(part, draft.location),
    "equipment": _read_equipment,
    "facilityType": _read_category,
    "sensitiveUnit": _read_sensitive,
    "interventionZone": _read_intervention_zone,
    "psychiatricSector": _read_psychiatric_sector,
}


def _read_extension(extension: etree._Element, draft: FacilityDraft) -> None:
    readers = _OFFER_READERS if draft.is_offer else _OI_READERS
    for name, part in children(extension):
        reader = readers.get(name)
        if reader is not None:
            reader(part, draft)


def _oi_identifier(facility: etree._Element) -> str | None:
    """The OI identifier: the first non-empty ``otherID`` code, preferring one shaped ``<region>/<n>``."""
    first = None
    for other in facility.iterchildren("{*}otherID"):
        code = (other.get("code") or "").strip()
        if "/" in code:
            return code
        first = first or code or None
    return first


def _type_code(facility: etree._Element) -> str | None:
    fallback = None
    for coded in facility.iterchildren("{*}codedType"):
        if table_of(coded) == OI_TYPE_TABLE:
            return code_of(coded)
        fallback = fallback or code_of(coded)
    return fallback


def read_facility(facility: etree._Element) -> FacilityDraft:
    draft = FacilityDraft(
        origin=Origin.of(facility),
        oi_id=_oi_identifier(facility),
        type_code=_type_code(facility),
        parent_entity=None,
        organization_entities=[],
        service_entities=[],
    )
    for name, part in children(facility):
        if name == "extension":
            _read_extension(part, draft)
        elif name == "organizations":
            for organization in part.iterchildren("{*}organization"):
                entity = organization.get("entityID")
                if entity:
                    draft.organization_entities.append(entity)
                draft.service_entities.extend(
                    service_entity
                    for service in organization.iterchildren("{*}service")
                    if (service_entity := service.get("entityID"))
                )
        elif name == "primaryName":
            draft.name = text(part)
        elif name == "otherName" and draft.alias is None:
            draft.alias = text(part)
        elif name == "address" and draft.address == (None, None, None):
            draft.address = address_parts(part)
        elif name == "contact":
            draft.contacts.add_native(part)
        elif name == "contactPoint":
            draft.contacts.add_telecom(part)
    location = draft.location.row
    if location["address_line"] is None and location["city"] is None:
        location["address_line"], location["postal_code"], location["city"] = draft.address
    return draft
