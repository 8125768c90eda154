"""HealthcareService → :class:`~rorsync.model.OfferRow` (offre opérationnelle).

``characteristic`` is sliced by coding system in the IG; each slice is routed here by the NOS table
of its coding system, accepting the TRE table or the ROR value set (JDV) since both appear as systems.

``sensitive`` (``ror-healthcareservice-sensitive-unit``, mandatory in the IG): when the extension is
missing the offer is stored as **sensitive**. The access policy must fail closed: a missing flag then
hides the offer from profiles 0, 2, 3 and 5 (profiles 1 and 4 still see it) instead of leaking a
possibly sensitive unit, and the offer is kept rather than quarantined, so no data is lost.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from rorsync.model import ContactRow, OfferRow
from rorsync.sources.fhir import profile
from rorsync.sources.fhir.mapping.children import Children
from rorsync.sources.fhir.mapping.common import (
    JSON,
    NO_CONTACT,
    ContactFields,
    FieldError,
    code_row,
    codings_of,
    concept_codes,
    confidentiality,
    contact_row,
    ext_value,
    extension_bool,
    extension_codes,
    extension_columns,
    extension_human_name,
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
    territorial_codes,
    with_short_names,
)

MISSING_SENSITIVE_FLAG_MEANS: Final = True

# characteristic coding table → CODE_KINDS kind (row columns are handled apart)
CARE_MODE_TABLES: Final = frozenset({"TRE_R213", "JDV_J19"})
CLOSING_TYPE_TABLES: Final = frozenset({"JDV_J185", "TRE_R286", "TRE_R233"})
ACT_TABLES: Final = frozenset({"TRE_R210", "JDV_J16"})
CHARACTERISTIC_KINDS: Final = {
    "TRE_R240": "reception_type",
    "JDV_J30": "reception_type",
    "TRE_R338": "reception_modality",
    "TRE_R236": "management_type",
    "JDV_J26": "management_type",
    "TRE_R245": "taking_care_speciality",
    "JDV_J35": "taking_care_speciality",
    "TRE_R238": "annual_opening",
    "JDV_J28": "annual_opening",
    "TRE_G15": "resource_profession",
    "JDV_J54": "resource_profession",
    "TRE_R243": "specific_competence",
    "JDV_J33": "specific_competence",
    "TRE_R253": "expertise_level",
    "JDV_J42": "expertise_level",
}
ACT_TYPE_KINDS: Final = {"specificAct": "specific_act", "outsideOfficeAct": "outside_office_act"}
ACTIVITY_FAMILY_TABLES: Final = frozenset({"JDV_J51", "TRE_R266", "TRE_R265"})
ACTIVITY_FIELD_TABLES: Final = frozenset({"TRE_R227", "JDV_J20"})

OFFER_IDENTIFIER_TYPE_KEY: Final = ("TRE_R355", profile.OFFER_IDENTIFIER_TYPE)

# ageRange units → years. The IG writes ``code=a``; FR Core moves to UCUM, where ``a`` is the year too.
AGE_UNIT_YEARS: Final = {"a": 1.0, "ann": 1.0, "mo": 1 / 12, "wk": 7 / 365.25, "d": 1 / 365.25}


def _short(url: str) -> str:
    return url.rpartition("/")[2]


HS_CONTACT_TELECOM: Final = _short(profile.EXT_HS_CONTACT_TELECOM)
# sub-extension (canonical URL or short name) → part of the contact / of one of its telecoms
HS_CONTACT_PARTS: Final = with_short_names(
    {
        "name": ("name", extension_human_name),
        "purposeContact": ("purpose", extension_value_code),
        "description": ("description", extension_str),
        profile.EXT_CONTACT_FUNCTION: ("function", extension_value_code),
        "ror-function-contact": ("function", extension_value_code),
        profile.EXT_CONFIDENTIALITY: ("level", confidentiality),
    }
)
HS_TELECOM_PARTS: Final = with_short_names(
    {
        profile.EXT_TELECOM_CHANNEL: ("channel", extension_value_code),
        "telecomAddress": ("value", extension_str),
        profile.EXT_TELECOM_USAGE: ("usage", extension_value_code),
        profile.EXT_TELECOM_CONFIDENTIALITY: ("level", confidentiality),
    }
)


def _offer_identifier(resource: JSON) -> str | None:
    first: str | None = None
    for index, identifier in enumerate(obj_items(resource, "identifier")):
        try:
            value = opt_str(identifier, "value")
            concept = opt_obj(identifier, "type")
            typed = concept_codes(concept) if concept is not None else []
        except FieldError as error:
            raise error.within(f"identifier[{index}]") from None
        if not value:
            continue
        if any((table_for_system(system), code) == OFFER_IDENTIFIER_TYPE_KEY for code, system in typed):
            return value
        first = first or value
    return first


def _activity_field(resource: JSON) -> str | None:
    fallback: str | None = None
    for code, system in codings_of(resource, "type"):
        if table_for_system(system) in ACTIVITY_FIELD_TABLES:
            return code
        fallback = fallback or code
    return fallback


def _characteristics(resource: JSON, children: Children) -> tuple[str | None, str | None]:
    """Routes each characteristic coding; returns ``(care_mode_code, closing_type_code)``."""
    care_mode = closing_type = None
    for index, concept in enumerate(obj_items(resource, "characteristic")):
        try:
            act_kind = ACT_TYPE_KINDS.get(
                ext_value(index_extensions(concept), profile.EXT_ACT_TYPE, extension_value_code) or "",
                "specific_act",
            )
            found = concept_codes(concept)
        except FieldError as error:
            raise error.within(f"characteristic[{index}]") from None
        for code, system in found:
            table = table_for_system(system)
            if table in CARE_MODE_TABLES:
                care_mode = care_mode or code
            elif table in CLOSING_TYPE_TABLES:
                closing_type = closing_type or code
            elif table in ACT_TABLES:
                children.codes.append(code_row(act_kind, code, system))
            elif table is not None and table in CHARACTERISTIC_KINDS:
                children.codes.append(code_row(CHARACTERISTIC_KINDS[table], code, system))
    return care_mode, closing_type


def _specialties(resource: JSON, children: Children) -> None:
    for code, system in codings_of(resource, "specialty"):
        kind = "activity_family" if table_for_system(system) in ACTIVITY_FAMILY_TABLES else "specialty"
        children.codes.append(code_row(kind, code, system))


def _age_years(quantity: JSON | None, path: str) -> float | None:
    if quantity is None:
        return None
    if type(quantity) is not dict:
        raise FieldError(path, f"expected a Quantity object, got {json_type(quantity)}")
    value = opt_float(quantity.get("value"), f"{path}.value")
    if value is None:
        return None
    unit = opt_str(quantity, "code") or opt_str(quantity, "unit") or "a"
    factor = AGE_UNIT_YEARS.get(unit)
    if factor is None:
        raise FieldError(f"{path}.code", f"unknown age unit {unit!r} (expected a, mo, wk or d)")
    return value * factor


def _patient_type(extension: JSON | None, children: Children) -> tuple[float | None, float | None]:
    """``ror-healthcareservice-patient-type``: public pris en charge codes and the age range in years."""
    if extension is None:
        return None, None
    subs = index_extensions(extension)
    extension_codes(subs.get("supportedPatientInfo", ()), "supportedPatientInfo", "patient_type", children.codes)
    age_range = subs.get("ageRange")
    value = opt_obj(age_range[0], "valueRange") if age_range else None
    if value is None:
        return None, None
    return (
        _age_years(value.get("low"), "extension(ageRange).valueRange.low"),
        _age_years(value.get("high"), "extension(ageRange).valueRange.high"),
    )


def _contact_telecom(extension: JSON, contact: ContactFields, rows: list[ContactRow]) -> None:
    parts: dict[str, Any] = {}
    extension_columns(index_extensions(extension), HS_TELECOM_PARTS, parts)
    rows.append(contact_row(contact, parts.get("channel"), parts.get("value"), parts.get("usage"), parts.get("level")))


def _contacts(extensions: dict[str, list[JSON]], rows: list[ContactRow]) -> None:
    """``ror-healthcareservice-contact``: one row per contact telecom, or one telecom-less row."""
    for index, extension in enumerate(extensions.get(profile.EXT_HS_CONTACT, ())):
        try:
            subs = index_extensions(extension)
            parts: dict[str, Any] = {}
            extension_columns(subs, HS_CONTACT_PARTS, parts)
            contact: ContactFields = (
                index,
                parts.get("name"),
                parts.get("purpose"),
                parts.get("function"),
                parts.get("description"),
                parts.get("level"),
            )
            telecoms = subs.get(profile.EXT_HS_CONTACT_TELECOM) or subs.get(HS_CONTACT_TELECOM) or []
            for telecom_index, telecom in enumerate(telecoms):
                try:
                    _contact_telecom(telecom, contact, rows)
                except FieldError as error:
                    raise error.within(f"extension(ror-healthcareservice-contact-telecom)[{telecom_index}]") from None
            if not telecoms:
                rows.append(contact_row(contact, None, None, None, None))
        except FieldError as error:
            raise error.within(f"extension(ror-healthcareservice-contact)[{index}]") from None


def _closure(resource: JSON) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``notAvailable[closingReopeningDate].during``: closure date and planned reopening."""
    for index, not_available in enumerate(obj_items(resource, "notAvailable")):
        try:
            during = opt_obj(not_available, "during")
            if during is not None:
                return (
                    opt_datetime(during.get("start"), "during.start"),
                    opt_datetime(during.get("end"), "during.end"),
                )
        except FieldError as error:
            raise error.within(f"notAvailable[{index}]") from None
    return None, None


def map_offer(resource: JSON, extensions: dict[str, list[JSON]], children: Children) -> OfferRow:
    sensitive = ext_value(extensions, profile.EXT_HS_SENSITIVE_UNIT, extension_bool)
    age_min, age_max = ext_value(
        extensions, profile.EXT_HS_PATIENT_TYPE, lambda extension: _patient_type(extension, children)
    )
    care_mode, closing_type = _characteristics(resource, children)
    closed_from, reopening_at = _closure(resource)
    _specialties(resource, children)
    extension_codes(
        extensions.get(profile.EXT_HS_PSYCHIATRIC_SECTOR, ()),
        _short(profile.EXT_HS_PSYCHIATRIC_SECTOR),
        "psychiatric_sector",
        children.codes,
    )
    territorial_codes(extensions, children.codes)
    _contacts(extensions, children.contacts)
    telecom_rows(resource, NO_CONTACT, children.contacts)
    for index, location in enumerate(obj_items(resource, "location")):
        location_id = reference_id(location, "Location", f"location[{index}]")
        if location_id is not None:
            children.location_refs.append(location_id)

    return {
        "offer_identifier": _offer_identifier(resource),
        "name": opt_str(resource, "name"),
        "organization_ref": reference_id(resource.get("providedBy"), "Organization", "providedBy"),
        "activity_field_code": _activity_field(resource),
        "category_code": first_concept_code(resource, "category"),
        "care_mode_code": care_mode,
        "sensitive": MISSING_SENSITIVE_FLAG_MEANS if sensitive is None else sensitive,
        "age_min": age_min,
        "age_max": age_max,
        "closed_from": closed_from,
        "reopening_at": reopening_at,
        "closing_type_code": closing_type,
        "comment": opt_str(resource, "comment")
        or ext_value(extensions, profile.EXT_COMMENT, extension_str)
        or ext_value(extensions, profile.EXT_META_COMMENT, extension_str),
    }
