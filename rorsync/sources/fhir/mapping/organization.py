"""Organization → :class:`~rorsync.model.OrganizationRow` (EJ, EG or OI).

Identifiers are read by ``identifier.system``, which is stable; ``identifier.type`` is only a
fallback for an identifier without a known system, and both type vocabularies are accepted (TRE_G07 /
TRE_R345 today, FR Core ``fr-core-cs-v2-0203`` after the pending FR Core move). ``meta.profile`` is
never looked at: production does not fill it.

The kind is decided by the first rule that applies:

1. an identifier on the OI system (``https://oi.esante.gouv.fr``) → OI;
2. a SIREN (9 digits on the sirene system, either spelling) and no ``partOf`` → EJ;
3. a SIRET (14 digits on the sirene system) → EG;
4. a ``type`` coding from TRE_R207 / JDV_J203 (internal organisation type) → OI;
5. a ``partOf`` → EG (an EG hangs under its EJ; an OI would have matched rule 1 or 4);
6. a ``type`` coding from TRE_R72 / TRE_R69 / JDV_J199 (legal status) → EJ, from TRE_R66 / JDV_J55
   (establishment category) → EG;
7. an idNatStruct built on a SIREN (prefix ``2``) → EJ, on a SIRET (prefix ``3``) → EG; a FINESS → EG;
8. otherwise the resource is rejected: guessing would put it in the wrong place of the tree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from rorsync.model import ContactRow, OrganizationKind, OrganizationRow
from rorsync.sources.fhir import profile
from rorsync.sources.fhir.mapping.children import Children
from rorsync.sources.fhir.mapping.common import (
    JSON,
    NO_CONTACT,
    ExtensionColumns,
    FieldError,
    address_columns,
    code_row,
    codings_of,
    concept_code,
    confidentiality,
    ext_value,
    extension_bool,
    extension_columns,
    extension_date,
    extension_str,
    extension_value_code,
    first_concept_code,
    first_obj,
    first_str,
    human_name_text,
    index_extensions,
    obj_items,
    opt_date,
    opt_obj,
    opt_str,
    reference_id,
    table_for_system,
    telecom_rows,
    territorial_codes,
)

SIRENE_SYSTEMS: Final = frozenset({profile.SYSTEM_SIRENE, profile.SYSTEM_SIRENE_LEGACY})
SYSTEM_SLOTS: Final = {
    profile.SYSTEM_ID_NAT_STRUCT: "id_nat_struct",
    profile.SYSTEM_FINESS: "finess",
    profile.SYSTEM_OI: "oi_id",
}
# (type code system — NOS table id or URL —, code) → identifier slot, for identifiers without a known system.
TYPE_SLOTS: Final = {
    ("TRE_G07", "1"): "finess",
    ("TRE_G07", "5"): "finess",
    ("TRE_G07", "6"): "finess",
    ("TRE_G07", "2"): "siren",
    ("TRE_G07", "3"): "siret",
    ("TRE_G07", "40"): "id_nat_struct",
    ("TRE_R345", profile.OI_IDENTIFIER_TYPE): "oi_id",
    (profile.ID_TYPE_FR_CORE, "IDNST"): "id_nat_struct",
    (profile.ID_TYPE_FR_CORE, "FINEJ"): "finess",
    (profile.ID_TYPE_FR_CORE, "FINEG"): "finess",
    (profile.ID_TYPE_FR_CORE, "SIREN"): "siren",
    (profile.ID_TYPE_FR_CORE, "SIRET"): "siret",
}
SIREN_LENGTH: Final = 9
SIRET_LENGTH: Final = 14

# type coding table → what it says about the organisation
CATEGORY_TABLES: Final = frozenset({"TRE_R66", "JDV_J55"})
LEGAL_STATUS_TABLES: Final = frozenset({"TRE_R72", "JDV_J199"})
OI_TYPE_TABLES: Final = frozenset({"TRE_R207", "JDV_J203"})
AGGREGATE_TABLES: Final = frozenset({"TRE_R69"})
ESPIC_TABLES: Final = frozenset({"TRE_R73"})

ADDRESS_COMMUNE_SUFFIXES: Final = ("insee-code", "commune-cog")

ORGANIZATION_EXTENSIONS: Final[ExtensionColumns] = {
    profile.EXT_LOC_COMMUNE_COG: ("commune_cog", extension_value_code),
    profile.EXT_ORG_CLOSING_TYPE: ("closing_type_code", extension_value_code),
    profile.EXT_ORG_REOPENING_DATE: ("reopening_date", extension_date),
    profile.EXT_ORG_DROP_ZONE: ("drop_zone", extension_bool),
    profile.EXT_ORG_ORSAN: ("orsan_level_code", extension_value_code),
    profile.EXT_COMMENT: ("comment", extension_str),
    profile.EXT_META_COMMENT: ("comment", extension_str),
}


class _Identifiers:
    __slots__ = ("finess", "id_nat_struct", "oi_id", "siren", "siret")

    def __init__(self) -> None:
        self.finess: str | None = None
        self.siren: str | None = None
        self.siret: str | None = None
        self.id_nat_struct: str | None = None
        self.oi_id: str | None = None


def _identifier_type_key(identifier: JSON) -> tuple[str, str] | None:
    concept = opt_obj(identifier, "type")
    if concept is None:
        return None
    try:
        code, system = concept_code(concept)
    except FieldError as error:
        raise error.within("type") from None
    if code is None or system is None:
        return None
    return (table_for_system(system) or system, code)


def _read_identifiers(resource: JSON) -> _Identifiers:
    found = _Identifiers()
    for index, identifier in enumerate(obj_items(resource, "identifier")):
        try:
            value = opt_str(identifier, "value")
            if not value:
                continue
            system = opt_str(identifier, "system")
            slot = SYSTEM_SLOTS.get(system) if system else None
            if slot is None:
                type_slot = TYPE_SLOTS.get(_identifier_type_key(identifier) or ("", ""))
                if system in SIRENE_SYSTEMS:
                    digits = value.replace(" ", "")
                    if len(digits) == SIREN_LENGTH:
                        slot, value = "siren", digits
                    elif len(digits) == SIRET_LENGTH:
                        slot, value = "siret", digits
                    elif type_slot in ("siren", "siret"):
                        slot = type_slot
                elif system is None or system not in SYSTEM_SLOTS:
                    slot = type_slot
            if slot is not None and getattr(found, slot) is None:
                setattr(found, slot, value)
        except FieldError as error:
            raise error.within(f"identifier[{index}]") from None
    return found


EJ: Final = OrganizationKind.EJ.value
EG: Final = OrganizationKind.EG.value
OI: Final = OrganizationKind.OI.value


def _kind(ids: _Identifiers, has_parent: bool, type_tables: set[str], where: str) -> str:
    if ids.oi_id:
        return OI
    if ids.siren and not has_parent:
        return EJ
    if ids.siret:
        return EG
    if type_tables & OI_TYPE_TABLES:
        return OI
    if has_parent:
        return EG
    if type_tables & (LEGAL_STATUS_TABLES | AGGREGATE_TABLES):
        return EJ
    if type_tables & CATEGORY_TABLES:
        return EG
    if ids.id_nat_struct and ids.id_nat_struct[0] == "2":
        return EJ
    if (ids.id_nat_struct and ids.id_nat_struct[0] == "3") or ids.finess:
        return EG
    raise FieldError(where, "cannot tell EJ, EG and OI apart: no OI/SIREN/SIRET/FINESS identifier, partOf or type")


def _commune_cog(address: JSON | None) -> str | None:
    if address is None:
        return None
    try:
        for url, found in index_extensions(address).items():
            if url.rpartition("/")[2].lower().endswith(ADDRESS_COMMUNE_SUFFIXES):
                return extension_value_code(found[0])
    except FieldError as error:
        raise error.within("address") from None
    return None


def _contacts(resource: JSON, rows: list[ContactRow]) -> None:
    for index, contact in enumerate(obj_items(resource, "contact")):
        try:
            extensions = index_extensions(contact)
            fields = (
                index,
                human_name_text(opt_obj(contact, "name")),
                first_concept_code(contact, "purpose"),
                ext_value(extensions, profile.EXT_CONTACT_FUNCTION, extension_value_code),
                ext_value(extensions, profile.EXT_CONTACT_DESCRIPTION, extension_str),
                ext_value(extensions, profile.EXT_CONTACT_CONFIDENTIALITY, confidentiality),
            )
            telecom_rows(contact, fields, rows)
        except FieldError as error:
            raise error.within(f"contact[{index}]") from None


def _period(extension: JSON | None) -> tuple[dt.date | None, dt.date | None]:
    """HL7 ``organization-period``: opening and closing dates (a closure is data, never a deletion)."""
    period = opt_obj(extension, "valuePeriod") if extension is not None else None
    if period is None:
        return None, None
    return opt_date(period.get("start"), "valuePeriod.start"), opt_date(period.get("end"), "valuePeriod.end")


def map_organization(resource: JSON, extensions: dict[str, list[JSON]], children: Children) -> OrganizationRow:
    ids = _read_identifiers(resource)
    parent_ref = reference_id(resource.get("partOf"), "Organization", "partOf")

    category = legal_status = oi_type = None
    type_tables: set[str] = set()
    for code, system in codings_of(resource, "type"):
        table = table_for_system(system)
        if table is None:
            continue
        type_tables.add(table)
        if table in CATEGORY_TABLES:
            category = category or code
        elif table in LEGAL_STATUS_TABLES:
            legal_status = legal_status or code
        elif table in OI_TYPE_TABLES:
            oi_type = oi_type or code
        elif table in AGGREGATE_TABLES:
            children.codes.append(code_row("aggregate", code, system))
        elif table in ESPIC_TABLES:
            children.codes.append(code_row("espic", code, system))

    address = first_obj(resource, "address")
    try:
        address_line, postal_code, city = address_columns(address)
    except FieldError as error:
        raise error.within("address") from None

    territorial_codes(extensions, children.codes)
    _contacts(resource, children.contacts)
    telecom_rows(resource, NO_CONTACT, children.contacts)

    read: dict[str, Any] = {}
    extension_columns(extensions, ORGANIZATION_EXTENSIONS, read)
    opening_date, closing_date = ext_value(extensions, profile.EXT_ORGANIZATION_PERIOD, _period)
    return {
        "kind": _kind(ids, parent_ref is not None, type_tables, "identifier"),
        "parent_ref": parent_ref,
        "name": opt_str(resource, "name"),
        "alias": first_str(resource, "alias"),
        "finess": ids.finess,
        "siren": ids.siren,
        "siret": ids.siret,
        "id_nat_struct": ids.id_nat_struct,
        "oi_id": ids.oi_id,
        "category_code": category,
        "legal_status_code": legal_status,
        "oi_type_code": oi_type,
        "address_line": address_line,
        "postal_code": postal_code,
        "city": city,
        "commune_cog": read.get("commune_cog") or _commune_cog(address),
        "opening_date": opening_date,
        "closing_date": closing_date,
        "closing_type_code": read.get("closing_type_code"),
        "reopening_date": read.get("reopening_date"),
        "drop_zone": read.get("drop_zone"),
        "orsan_level_code": read.get("orsan_level_code"),
        "comment": read.get("comment"),
    }
