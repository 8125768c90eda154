"""``providerDirectory/provider`` → a draft practitioner and the internal organizations it serves.

The provider itself becomes a practitioner; each ``facilities/facility`` it lists becomes one
practitioner role (on the offer when the facility is a UE, on the OI otherwise), carrying the
profession (``codedType``, TRE_G15), the savoir-faire (``credential``, on the role as in FHIR), the
exercise mode of ``operationalStatus`` and its telecom.

A person with several roles comes as several ``provider`` elements under one idNat_PS, each with
its role's details and ``record``. The practitioner record's payload is therefore only the person's
part of the element (identifiers and ``demographic``), so that every element describing the same
person gives the same practitioner, whichever is read last.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from lxml import etree

from rorsync.model import CodeRow, PractitionerRow
from rorsync.sources.csd.elements import Contacts, Origin, add_code, child, children, code_of, text


@dataclass(slots=True)
class ProviderDraft:
    origin: Origin
    idnat_ps: str | None
    row: PractitionerRow
    profession_code: str | None
    exercise_mode_code: str | None
    facility_entities: list[str]
    organization_entities: list[str]
    practitioner_payload: bytes = b""
    role_codes: list[CodeRow] = field(default_factory=list)
    practitioner_contacts: Contacts = field(default_factory=Contacts)
    role_contacts: Contacts = field(default_factory=Contacts)


def _read_name(demographic: etree._Element, row: PractitionerRow, contacts: Contacts) -> None:
    for name, part in children(demographic):
        if name == "name" and row["family_name"] is None:
            common = text(child(part, "commonName"))
            honorific = child(part, "honorific")
            row["family_name"] = text(child(part, "surname")) or common
            row["given_name"] = text(child(part, "forename"))
            if honorific is not None:
                row["prefix"] = code_of(honorific) or text(honorific)
        elif name == "contactPoint":
            contacts.add_telecom(part)


def _read_credential(credential: etree._Element, codes_: list[CodeRow]) -> None:
    for name, part in children(credential):
        if name == "codedType":
            add_code(codes_, "savoir_faire", part)
        elif name == "extension":
            for _, detail in children(part):
                if detail.get("code") is not None:
                    add_code(codes_, "savoir_faire", detail)


def _read_extension(extension: etree._Element, draft: ProviderDraft) -> None:
    for name, part in children(extension):
        if name == "operationalStatus":
            for status_name, status_part in children(part):
                if status_name == "exerciceModeInUnit":
                    draft.exercise_mode_code = code_of(status_part)
                elif status_name == "contactPoint":
                    draft.role_contacts.add_telecom(status_part)
                elif status_name == "specificSkills":
                    add_code(draft.role_codes, "specific_competence", status_part)
        elif name == "mailBoxMSS":
            mailbox = child(part, "contactPoint")
            if mailbox is not None:
                draft.practitioner_contacts.add_telecom(mailbox)


def read_provider(provider: etree._Element) -> ProviderDraft:
    idnat_ps = next(
        (code for other in provider.iterchildren("{*}otherID") if (code := (other.get("code") or "").strip())),
        None,
    )
    draft = ProviderDraft(
        origin=Origin.of(provider),
        idnat_ps=idnat_ps,
        row=PractitionerRow(idnat_ps=idnat_ps, family_name=None, given_name=None, prefix=None),
        profession_code=None,
        exercise_mode_code=None,
        facility_entities=[],
        organization_entities=[],
    )
    for name, part in children(provider):
        if name == "codedType" and draft.profession_code is None:
            draft.profession_code = code_of(part)
        elif name == "demographic":
            _read_name(part, draft.row, draft.practitioner_contacts)
        elif name == "facilities":
            draft.facility_entities.extend(
                entity for facility in part.iterchildren("{*}facility") if (entity := facility.get("entityID"))
            )
        elif name == "organizations":
            draft.organization_entities.extend(
                entity
                for organization in part.iterchildren("{*}organization")
                if (entity := organization.get("entityID"))
            )
        elif name == "credential":
            _read_credential(part, draft.role_codes)
        elif name == "extension":
            _read_extension(part, draft)
    draft.practitioner_payload = _person(provider)
    return draft


PERSON_ELEMENTS = frozenset({"otherID", "demographic"})


def _person(provider: etree._Element) -> bytes:
    """The person's part of a provider element, without the role's details nor its ``@entityID``."""
    person = etree.Element(provider.tag)
    for name, part in children(provider):
        if name in PERSON_ELEMENTS:
            person.append(copy.deepcopy(part))
    return etree.tostring(person, method="c14n", exclusive=True)
