"""Location → :class:`~rorsync.model.LocationRow` with capacity, equipment and residential capacity.

Capacity indicators (``ror-location-supported-capacity``) are read whatever the form of their coded
values (``valueCodeableConcept`` today, plain ``valueCode``/``valueCoding`` in older files). Absent
identity codes become ``""`` so the store can enforce one row per indicator; when a Location carries
the same indicator twice (the server should refuse it), the most recently updated one is kept rather
than failing the whole Location or the batch on the store's uniqueness constraint.
"""

from __future__ import annotations

import datetime as dt
from operator import itemgetter
from typing import Final

import orjson

from rorsync.model import CAPACITY_IDENTITY, CapacityRow, EquipmentRow, LocationRow, ResidentialCapacityRow
from rorsync.sources.fhir import profile
from rorsync.sources.fhir.mapping.children import Children
from rorsync.sources.fhir.mapping.common import (
    JSON,
    NO_CONTACT,
    FieldError,
    address_columns,
    concept_codes,
    ext_value,
    extension_code,
    extension_int,
    extension_str,
    extension_value_code,
    first_concept_code,
    index_extensions,
    json_type,
    obj_items,
    opt_datetime,
    opt_float,
    opt_obj,
    opt_str,
    reference_id,
    table_for_system,
    telecom_rows,
)

# TRE_R203 StatutLieu codes, normalised to the JDV_J224 codes the IG uses.
OPERATIONAL_STATUS_FROM_R203: Final = {"1": "FD", "2": "FT", "3": "OP"}
LOCATION_TYPE_KEYS: Final = {
    ("TRE_R354", profile.LOCATION_IDENTIFIER_TYPE): "location_identifier",
    ("TRE_R354", profile.LOCATION_SYNC_ID_TYPE): "external_sync_id",
}
EPOCH: Final = dt.datetime.min.replace(tzinfo=dt.UTC)


def _identifiers(resource: JSON) -> dict[str, str]:
    found: dict[str, str] = {}
    untyped: str | None = None
    for index, identifier in enumerate(obj_items(resource, "identifier")):
        try:
            value = opt_str(identifier, "value")
            concept = opt_obj(identifier, "type")
            typed = concept_codes(concept) if concept is not None else []
        except FieldError as error:
            raise error.within(f"identifier[{index}]") from None
        if not value:
            continue
        slot = next(
            (
                LOCATION_TYPE_KEYS[key]
                for code, system in typed
                if (key := (table_for_system(system) or "", code)) in LOCATION_TYPE_KEYS
            ),
            None,
        )
        if slot is not None:
            found.setdefault(slot, value)
        elif not typed and untyped is None:
            untyped = value
    if untyped is not None:
        found.setdefault("location_identifier", untyped)
    return found


def _operational_status(resource: JSON) -> str | None:
    status = resource.get("operationalStatus")
    if status is None:
        return None
    if type(status) is not dict:
        raise FieldError("operationalStatus", f"expected a Coding object, got {json_type(status)}")
    # A Coding in R4; a CodeableConcept is accepted too.
    code = first_concept_code(resource, "operationalStatus") if "coding" in status else opt_str(status, "code")
    return OPERATIONAL_STATUS_FROM_R203.get(code, code) if code else None


# sub-extension name → CapacityRow column, for the coded ones (identity codes default to "", the rest to None)
CAPACITY_CODE_COLUMNS: Final = {**profile.CAPACITY_SUBEXTENSIONS, "capacitySourceType": "source_type"}
EMPTY_CAPACITY: Final[dict[str, object]] = {
    **dict.fromkeys(CAPACITY_IDENTITY, ""),
    "nb": None,
    "source_type": None,
    "updated_at": None,
    "comment": None,
}
capacity_identity: Final = itemgetter(*CAPACITY_IDENTITY)


def _capacity(extension: JSON) -> CapacityRow:
    """One indicator, read in a single pass over its sub-extensions (the hottest loop of a full load)."""
    row = dict(EMPTY_CAPACITY)
    subs = extension.get("extension")
    if type(subs) is not list:
        raise FieldError("extension", f"expected an array, got {json_type(subs)}")
    for index, sub in enumerate(subs):
        name = sub.get("url") if type(sub) is dict else None
        if type(name) is not str:
            raise FieldError(f"extension[{index}]", "expected an object with a string url")
        try:
            column = CAPACITY_CODE_COLUMNS.get(name)
            if column is not None:
                try:  # inlined fast path for the usual valueCodeableConcept with one coding
                    code = sub["valueCodeableConcept"]["coding"][0]["code"]
                    if type(code) is not str:
                        code = None
                except (KeyError, TypeError, IndexError):
                    code = None
                if code is None:  # other value forms (valueCode...), or the error naming the element
                    code = extension_code(sub)[0]
                row[column] = code if code or column == "source_type" else ""
            elif name == "nbCapacity":
                row["nb"] = extension_int(sub)
            elif name == "capacityUpdateDate":
                row["updated_at"] = opt_datetime(sub.get("valueDateTime") or sub.get("valueInstant"), "valueDateTime")
            elif name == "comment":
                row["comment"] = extension_str(sub)
        except FieldError as error:
            raise error.within(f"extension({name})") from None
    if row["nb"] is None:
        raise FieldError("extension(nbCapacity)", "missing: an indicator without a count cannot be stored")
    return row  # type: ignore[return-value]


def _capacities(extensions: dict[str, list[JSON]], rows: list[CapacityRow]) -> None:
    by_identity: dict[tuple[str, ...], CapacityRow] = {}
    for index, extension in enumerate(extensions.get(profile.EXT_LOC_SUPPORTED_CAPACITY, ())):
        try:
            row = _capacity(extension)
        except FieldError as error:
            raise error.within(f"extension(ror-location-supported-capacity)[{index}]") from None
        identity = capacity_identity(row)
        kept = by_identity.get(identity)
        if kept is None or (row["updated_at"] or EPOCH) >= (kept["updated_at"] or EPOCH):
            by_identity[identity] = row
    rows.extend(by_identity.values())


def _equipment_limit(extension: JSON) -> dict[str, object]:
    subs = index_extensions(extension)
    limit = subs.get("limitValue")
    quantity = opt_obj(limit[0], "valueQuantity") if limit else None
    return {
        "feature": ext_value(subs, "equipmentFeature", extension_value_code),
        "value": opt_float(quantity.get("value"), "extension(limitValue).valueQuantity.value") if quantity else None,
        "unit": (opt_str(quantity, "code") or opt_str(quantity, "unit")) if quantity else None,
    }


def _equipment(extensions: dict[str, list[JSON]], rows: list[EquipmentRow]) -> None:
    limit_names = (profile.EXT_LOC_EQUIPMENT_LIMIT, profile.EXT_LOC_EQUIPMENT_LIMIT.rpartition("/")[2])
    for index, extension in enumerate(extensions.get(profile.EXT_LOC_EQUIPMENT, ())):
        try:
            subs = index_extensions(extension)
            limits = [_equipment_limit(limit) for name in limit_names for limit in subs.get(name, ())]
            rows.append(
                {
                    "equipment_type_code": ext_value(subs, "equipmentType", extension_value_code),
                    "nb_in_service": ext_value(subs, "nbInService", extension_int),
                    "limits": orjson.dumps(limits).decode() if limits else None,
                }
            )
        except FieldError as error:
            raise error.within(f"extension(ror-location-equipment)[{index}]") from None


def _residential(extensions: dict[str, list[JSON]], rows: list[ResidentialCapacityRow]) -> None:
    for index, extension in enumerate(extensions.get(profile.EXT_LOC_RESIDENTIAL_CAPACITY, ())):
        try:
            subs = index_extensions(extension)
            rows.append(
                {
                    "residential_type_code": ext_value(subs, "residentialType", extension_value_code),
                    "number": ext_value(subs, "residentialNumber", extension_int),
                }
            )
        except FieldError as error:
            raise error.within(f"extension(ror-location-residential-capacity)[{index}]") from None


def map_location(resource: JSON, extensions: dict[str, list[JSON]], children: Children) -> LocationRow:
    identifiers = _identifiers(resource)
    address = opt_obj(resource, "address")
    try:
        address_line, postal_code, city = address_columns(address)
    except FieldError as error:
        raise error.within("address") from None
    position = opt_obj(resource, "position") or {}
    _capacities(extensions, children.capacities)
    _equipment(extensions, children.equipment)
    _residential(extensions, children.residential)
    telecom_rows(resource, NO_CONTACT, children.contacts)
    return {
        "location_identifier": identifiers.get("location_identifier"),
        "external_sync_id": identifiers.get("external_sync_id"),
        "name": opt_str(resource, "name"),
        "description": opt_str(resource, "description"),
        "function_code": first_concept_code(resource, "type"),
        "operational_status": _operational_status(resource),
        "status": opt_str(resource, "status"),
        "address_line": address_line,
        "postal_code": postal_code,
        "city": city,
        "commune_cog": ext_value(extensions, profile.EXT_LOC_COMMUNE_COG, extension_value_code),
        "latitude": opt_float(position.get("latitude"), "position.latitude"),
        "longitude": opt_float(position.get("longitude"), "position.longitude"),
        "managing_organization_ref": reference_id(
            resource.get("managingOrganization"), "Organization", "managingOrganization"
        ),
        "part_of_ref": reference_id(resource.get("partOf"), "Location", "partOf"),
    }
