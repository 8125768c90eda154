"""Helpers of the CSD simulator tests: the service over a world, XSD checks, and both protocols' views
projected onto what CSD v2.4 can carry, keyed by business key, for comparison."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Any

from lxml import etree

from rorsync.model import CapacityRow, ContactRow, Entity, OrganizationKind, Record
from rorsync.policy.rules import PolicySettings
from rorsync.simulator.csd.service import CsdService, CsdSettings
from rorsync.simulator.fhir.filtering import Redactor
from rorsync.simulator.world.store import WorldStore
from rorsync.sources.csd.times import PARIS
from rorsync.sources.csd.wsdl import load_xml_schema
from rorsync.sources.fhir.parse import record_from_resource

SOAP_BODY = "{http://www.w3.org/2003/05/soap-envelope}Body"


def csd_service(world: WorldStore, settings: CsdSettings | None = None) -> CsdService:
    return CsdService(world, Redactor(PolicySettings().rules()), settings or CsdSettings())


def assert_valid(body: bytes) -> etree._Element:
    """The SOAP payload of ``body``, checked against the v2.4 XSD (raises with the first error)."""
    root = etree.fromstring(body)
    payload = root if root.tag != "{http://www.w3.org/2003/05/soap-envelope}Envelope" else root.find(SOAP_BODY)[0]
    schema = load_xml_schema()
    assert schema.validate(payload), schema.error_log.last_error
    return payload


def fhir_records(world: WorldStore, service: CsdService, establishment_id: str, profile: int) -> list[Record]:
    """What a FHIR client of ``profile`` maps from the EG's subtree (and its EJ)."""
    establishment = world.get("Organization", establishment_id)
    assert establishment is not None
    view = service.view(establishment, profile)
    assert view is not None
    items = [view.establishment, *view.internal.values(), *view.offers.values(), *view.locations.values()]
    items += [*view.roles, *view.practitioners.values()]
    if view.legal_entity is not None:
        items.append(view.legal_entity)
    records = [record_from_resource(item.resource, b"") for item in items]
    return [record for record in records if record is not None]


def _contacts(rows: Iterable[ContactRow]) -> Counter[tuple[Any, ...]]:
    return Counter(
        (
            row["contact_ord"] is None,
            row["contact_name"],
            row["purpose_code"],
            row["function_code"],
            row["description"],
            row["contact_confidentiality"],
            row["channel_code"],
            row["value"],
            row["telecom_confidentiality"],
        )
        for row in rows
    )


def paris_day(moment: dt.datetime | None) -> dt.date | None:
    return moment.astimezone(PARIS).date() if moment is not None else None


def csd_capacities(rows: Iterable[CapacityRow]) -> dict[tuple[str, str, str], int]:
    """What v2.4 carries of a location's indicators: sums per (type, status, temporality); crisis
    capacity (supplementary lines of any type) is counted in beds, as the CSD parser reads it."""
    found: Counter[tuple[str, str, str]] = Counter()
    for row in rows:
        current = row["temporality"] == "01"
        if row["status"] == "01" and current:
            found[row["capacity_type"], "01", "01"] += row["nb"]
        elif row["status"] == "02" and current and row["temporary_assignment"] in ("", "01"):
            found[row["capacity_type"], "02", "01"] += row["nb"]
        elif row["status"] == "06":
            for temporality in ("01", "02"):  # the XSD makes both crisis counts mandatory
                found["01", "06", temporality] += row["nb"] if row["temporality"] == temporality else 0
    return dict(found)


def carried(records: list[Record], *, source: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Both protocols' records as {(entity, business key): fields CSD v2.4 carries}.

    FHIR records are keyed by their business identifiers (idNatStruct, OI / offer identifier, RPPS),
    as the CSD parser keys its records; references are translated the same way. FHIR offers get
    the location CSD renders (their first one).
    """
    key_of: dict[str, str] = {}
    for record in records:
        row: Any = record.row
        if record.entity is Entity.ORGANIZATION:
            key_of[record.resource_id] = row["id_nat_struct"] or row["oi_id"]
        elif record.entity is Entity.OFFER:
            key_of[record.resource_id] = row["offer_identifier"]
        elif record.entity is Entity.PRACTITIONER:
            key_of[record.resource_id] = row["idnat_ps"]
    fhir = source == "fhir"
    locations = {record.resource_id: record for record in records if record.entity is Entity.LOCATION}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        row = record.row
        key = key_of.get(record.resource_id, record.resource_id) if fhir else record.resource_id
        if record.entity is Entity.ORGANIZATION:
            if row["kind"] == OrganizationKind.OI and row["oi_type_code"] == "4":
                continue  # a UE Organization: in CSD the UE is the offer itself
            closing = row["closing_date"]
            if row["kind"] == OrganizationKind.OI and row["closing_type_code"] == "PRO":
                closing = None
            found[record.entity.value, key] = {
                "kind": row["kind"],
                "parent": key_of.get(row["parent_ref"] or "", row["parent_ref"]) if fhir else row["parent_ref"],
                "name": row["name"],
                "alias": row["alias"] if row["kind"] != OrganizationKind.OI else None,
                "finess": row["finess"],
                "category": row["category_code"],
                "legal_status": row["legal_status_code"],
                "oi_type": row["oi_type_code"],
                "address": (row["address_line"], row["postal_code"], row["city"]),
                "opening": row["opening_date"],
                "closing": closing,
                "closing_type": row["closing_type_code"] if closing and row["kind"] != OrganizationKind.OI else None,
                "drop_zone": row["drop_zone"],
                "orsan": row["orsan_level_code"],
                "codes": sorted((code["kind"], code["code"]) for code in record.codes),
                "contacts": _contacts(record.contacts),
                "updated": record.last_updated,
            }
        elif record.entity is Entity.OFFER:
            definitive = row["closing_type_code"] == "DEF" or (not fhir and row["closed_from"] is not None)
            first = next((locations[ref] for ref in record.location_refs if ref in locations), None)
            location: Any = first.row if first is not None else None
            found[record.entity.value, key] = {
                "name": row["name"],
                "provider": key_of.get(row["organization_ref"] or "", row["organization_ref"])
                if fhir
                else row["organization_ref"],
                "activity_field": row["activity_field_code"],
                "category": row["category_code"],
                "care_mode": row["care_mode_code"],
                "sensitive": row["sensitive"],
                "ages": (row["age_min"], row["age_max"]),
                "closed": paris_day(row["closed_from"]) if definitive else None,
                "codes": sorted(
                    {
                        ("specific_act" if code["kind"] == "outside_office_act" else code["kind"], code["code"])
                        for code in record.codes
                    }
                ),
                "contacts": _contacts(record.contacts),
                "updated": record.last_updated,
                "location": None
                if first is None
                else {
                    "name": location["name"],
                    "description": location["description"],
                    "status": (location["operational_status"], location["status"]),
                    "address": (location["address_line"], location["postal_code"], location["city"]),
                    "commune": location["commune_cog"],
                    "position": (location["latitude"], location["longitude"]),
                    "capacities": csd_capacities(first.capacities),
                    "residential": sorted((r["residential_type_code"], r["number"]) for r in first.residential),
                    "equipment": sorted((e["equipment_type_code"], e["nb_in_service"]) for e in first.equipment),
                },
            }
        elif record.entity is Entity.PRACTITIONER:
            found[record.entity.value, key] = {
                "family": row["family_name"],
                "given": row["given_name"],
                "prefix": (row["prefix"] or "").upper() or None,
                "contacts": _contacts(record.contacts),
            }
        elif record.entity is Entity.PRACTITIONER_ROLE:
            practitioner = (
                key_of.get(row["practitioner_ref"] or "", row["practitioner_ref"]) if fhir else row["practitioner_ref"]
            )
            offer = key_of.get(row["offer_ref"] or "", row["offer_ref"]) if fhir else row["offer_ref"]
            found[record.entity.value, f"{practitioner}@{offer}"] = {
                "profession": row["profession_code"],
                "exercise_mode": row["exercise_mode_code"],
                "organization": key_of.get(row["organization_ref"] or "", row["organization_ref"])
                if fhir
                else row["organization_ref"],
                "contacts": _contacts(record.contacts),
            }
    return found
