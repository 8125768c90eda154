"""``organizationDirectory/organization`` → a draft EJ / EG organization (references not yet resolved).

An organization without ``parent`` is an EJ, with ``parent`` an EG (csd-mev24 §8). Codes:
``codedType`` by code system — TRE_R72 legal status, TRE_R66 EG category, TRE_R69 aggregate and
TRE_R73 ESPIC as code rows. Closures (``closingDate`` + ``closingReason``) are data, never deletions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from rorsync.model import CodeRow, OrganizationKind, OrganizationRow
from rorsync.sources.csd.elements import (
    Contacts,
    Origin,
    add_code,
    address_parts,
    boolean,
    child,
    children,
    code_of,
    table_of,
    text,
)
from rorsync.sources.csd.identifiers import (
    ID_NAT_STRUCT_AUTHORITIES,
    derived_id_nat_struct,
    region_of_organization,
    split_id_nat_struct,
)
from rorsync.sources.csd.times import parse_date

_CODE_KINDS = {"TRE_R69": "aggregate", "TRE_R73": "espic"}


@dataclass(slots=True)
class OrganizationDraft:
    origin: Origin
    id_nat_struct: str | None
    parent_entity: str | None
    row: OrganizationRow
    region: str | None
    codes: list[CodeRow] = field(default_factory=list)
    contacts: Contacts = field(default_factory=Contacts)


def _id_nat_struct(organization: etree._Element) -> str | None:
    """The idNatStruct ``otherID``; else one derived from a FINESS/SIREN/SIRET; empty ones skipped."""
    derived = None
    for name, part in children(organization):
        if name != "otherID":
            continue
        code = (part.get("code") or "").strip()
        authority = (part.get("assigningAuthorityName") or "").strip()
        if not code:
            continue
        if authority in ID_NAT_STRUCT_AUTHORITIES:
            return code
        derived = derived or derived_id_nat_struct(authority, code)
    return derived


def _read_extension(extension: etree._Element, row: OrganizationRow, draft: OrganizationDraft) -> None:
    for name, part in children(extension):
        if name == "contact":
            draft.contacts.add_ror(part)
        elif name == "location":
            city = child(part, "cityNumber")
            if city is not None and row["commune_cog"] is None:
                row["commune_cog"] = code_of(city)
        elif name == "dropZone":
            row["drop_zone"] = boolean(part)
        elif name == "creationDate":
            row["opening_date"] = parse_date(part.text or "")
        elif name == "closingDate":
            row["closing_date"] = parse_date(part.text or "")
        elif name == "closingReason":
            row["closing_type_code"] = code_of(part)
        elif name == "levelRecourseORSAN":
            row["orsan_level_code"] = code_of(part)


def read_organization(organization: etree._Element) -> OrganizationDraft:
    parent = child(organization, "parent")
    parent_entity = parent.get("entityID") if parent is not None else None
    id_nat_struct = _id_nat_struct(organization)
    finess, siren, siret = split_id_nat_struct(id_nat_struct) if id_nat_struct else (None, None, None)
    row = OrganizationRow(
        kind=OrganizationKind.EG if parent is not None else OrganizationKind.EJ,
        parent_ref=None,
        name=None,
        alias=None,
        finess=finess,
        siren=siren,
        siret=siret,
        id_nat_struct=id_nat_struct,
        oi_id=None,
        category_code=None,
        legal_status_code=None,
        oi_type_code=None,
        address_line=None,
        postal_code=None,
        city=None,
        commune_cog=None,
        opening_date=None,
        closing_date=None,
        closing_type_code=None,
        reopening_date=None,
        drop_zone=None,
        orsan_level_code=None,
        comment=None,
    )
    draft = OrganizationDraft(
        origin=Origin.of(organization),
        id_nat_struct=id_nat_struct,
        parent_entity=parent_entity,
        row=row,
        region=None,
    )
    for name, part in children(organization):
        if name == "codedType":
            table_id = table_of(part)
            if table_id == "TRE_R72":
                row["legal_status_code"] = code_of(part)
            elif table_id == "TRE_R66":
                row["category_code"] = code_of(part)
            elif table_id in _CODE_KINDS:
                add_code(draft.codes, _CODE_KINDS[table_id], part)
        elif name == "primaryName":
            row["name"] = text(part)
        elif name == "otherName" and row["alias"] is None:
            row["alias"] = text(part)
        elif name == "address" and row["address_line"] is None:
            row["address_line"], row["postal_code"], row["city"] = address_parts(part)
        elif name == "contact":
            draft.contacts.add_native(part)
        elif name == "contactPoint":
            draft.contacts.add_telecom(part)
        elif name == "extension":
            _read_extension(part, row, draft)
    draft.region = region_of_organization(finess, row["commune_cog"])
    return draft
