"""Small builders of valid records for store and policy tests (sources have their own fixtures)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from rorsync.model import (
    CapacityRow,
    CodeRow,
    ContactRow,
    Entity,
    EquipmentRow,
    LocationRow,
    OfferRow,
    OrganizationRow,
    PractitionerRoleRow,
    PractitionerRow,
    Record,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def _record(entity: Entity, resource_id: str, last_updated: dt.datetime, row: Any, **children: Any) -> Record:
    payload = orjson.dumps({"id": resource_id, "v": last_updated.isoformat(), "row": row}, default=str)
    return Record(entity, resource_id, last_updated, children.pop("region", "11"), payload, row, **children)


CHILDREN = ("contacts", "codes", "region")


def _finish(
    entity: Entity,
    resource_id: str,
    last_updated: dt.datetime,
    row: Any,
    fields: dict[str, Any],
    *,
    children: tuple[str, ...] = CHILDREN,
) -> Record:
    """``fields`` override ``row``, except the child-row keys, which go to the record."""
    kept = {key: fields.pop(key) for key in children if key in fields}
    row.update(fields)
    return _record(entity, resource_id, last_updated, row, **kept)


def organization(resource_id: str, last_updated: dt.datetime = T0, **fields: Any) -> Record:
    row: OrganizationRow = {
        "kind": "EG",
        "parent_ref": None,
        "name": f"Site {resource_id}",
        "alias": None,
        "finess": None,
        "siren": None,
        "siret": None,
        "id_nat_struct": None,
        "oi_id": None,
        "category_code": None,
        "legal_status_code": None,
        "oi_type_code": None,
        "address_line": None,
        "postal_code": None,
        "city": None,
        "commune_cog": None,
        "opening_date": None,
        "closing_date": None,
        "closing_type_code": None,
        "reopening_date": None,
        "drop_zone": None,
        "orsan_level_code": None,
        "comment": None,
    }
    return _finish(Entity.ORGANIZATION, resource_id, last_updated, row, fields)


def offer(resource_id: str, last_updated: dt.datetime = T0, **fields: Any) -> Record:
    row: OfferRow = {
        "offer_identifier": f"11/{resource_id}",
        "name": f"Offer {resource_id}",
        "organization_ref": None,
        "activity_field_code": "01",
        "category_code": None,
        "care_mode_code": None,
        "sensitive": False,
        "age_min": None,
        "age_max": None,
        "closed_from": None,
        "reopening_at": None,
        "closing_type_code": None,
        "comment": None,
    }
    return _finish(Entity.OFFER, resource_id, last_updated, row, fields, children=(*CHILDREN, "location_refs"))


def location(resource_id: str, last_updated: dt.datetime = T0, **fields: Any) -> Record:
    row: LocationRow = {
        "location_identifier": f"11/{resource_id}",
        "external_sync_id": None,
        "name": f"Location {resource_id}",
        "description": None,
        "function_code": "001",
        "operational_status": "OP",
        "status": "active",
        "address_line": None,
        "postal_code": None,
        "city": None,
        "commune_cog": None,
        "latitude": None,
        "longitude": None,
        "managing_organization_ref": None,
        "part_of_ref": None,
    }
    return _finish(
        Entity.LOCATION,
        resource_id,
        last_updated,
        row,
        fields,
        children=("contacts", "capacities", "equipment", "residential", "region"),
    )


def practitioner(resource_id: str, last_updated: dt.datetime = T0, **fields: Any) -> Record:
    row: PractitionerRow = {
        "idnat_ps": f"8{resource_id}",
        "family_name": "Martin",
        "given_name": "Anne",
        "prefix": None,
    }
    return _finish(Entity.PRACTITIONER, resource_id, last_updated, row, fields)


def practitioner_role(resource_id: str, last_updated: dt.datetime = T0, **fields: Any) -> Record:
    row: PractitionerRoleRow = {
        "situation_identifier": f"SO-{resource_id}",
        "practitioner_ref": None,
        "offer_ref": None,
        "organization_ref": None,
        "location_ref": None,
        "profession_code": "10",
        "exercise_mode_code": "S",
    }
    return _finish(Entity.PRACTITIONER_ROLE, resource_id, last_updated, row, fields)


def code(kind: str, value: str, table_id: str | None = None) -> CodeRow:
    return {"kind": kind, "table_id": table_id, "code": value}


def equipment(type_code: str, nb: int | None = 1) -> EquipmentRow:
    return {"equipment_type_code": type_code, "nb_in_service": nb, "limits": None}


def capacity(status: str, nb: int, **codes: str) -> CapacityRow:
    line: CapacityRow = {
        "capacity_type": "01",
        "status": status,
        "temporality": "01",
        "gender": "",
        "closing_type": "",
        "additional_bed_type": "",
        "crisis_type": "",
        "temporary_assignment": "01",
        "nb": nb,
        "source_type": "01",
        "updated_at": T0,
        "comment": None,
    }
    line.update(codes)  # type: ignore[typeddict-item]
    return line


def telecom(
    value: str, *, contact_level: int | None = None, telecom_level: int | None = 1, **fields: Any
) -> ContactRow:
    row: ContactRow = {
        "contact_ord": 0 if contact_level is not None else None,
        "contact_name": "Accueil" if contact_level is not None else None,
        "purpose_code": None,
        "function_code": None,
        "description": None,
        "contact_confidentiality": contact_level,
        "channel_code": "2",
        "value": value,
        "usage_code": None,
        "telecom_confidentiality": telecom_level,
    }
    row.update(fields)  # type: ignore[typeddict-item]
    return row
