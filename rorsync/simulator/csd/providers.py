"""A practitioner in one situation (PractitionerRole) as ``providerDirectory/provider``.

One provider per role: CSD has a single profession (``codedType``, TRE_G15) and one
``operationalStatus`` (exercise mode TRE_R23, one telecom) per provider, so a practitioner working in
two offers appears twice, under the same idNat_PS ``otherID``. ``facilities/facility`` cites the UE
of the role's offer. The role's savoir-faire (TRE_R38) becomes a ``credential``; its ``record`` is
dated by the later of the practitioner and the role, while the person's own telecoms (under
``demographic``) keep the practitioner's dates, so the person reads the same in every provider.
"""

from __future__ import annotations

from typing import Final

from lxml import etree

from rorsync import codes
from rorsync.model import PractitionerRow
from rorsync.simulator.csd.nodes import ID_NAT_PS_AUTHORITY, Nodes, add, bare_telecoms, top
from rorsync.simulator.csd.view import Item

CIVILITY_TABLE: Final = "TRE_R11"


def provider(nodes: Nodes, role: Item, practitioner: Item, facility_entity: str) -> etree._Element:
    person: PractitionerRow = practitioner.record.row  # type: ignore[assignment]
    stamps = (min(role.created, practitioner.created), max(role.record.last_updated, practitioner.record.last_updated))
    element = top("provider", entityID=f"pr{role.resource_id}")
    if person["idnat_ps"]:
        nodes.other_id(element, person["idnat_ps"], ID_NAT_PS_AUTHORITY)
    nodes.coded(element, "codedType", "TRE_G15", role.role["profession_code"])
    demographic = add(element, "demographic")
    name = add(demographic, "name")
    given, family = person["given_name"], person["family_name"]
    add(name, "commonName", " ".join(part for part in (given, family) if part))
    if person["prefix"]:
        civility = person["prefix"].upper()
        known = civility in codes.table(CIVILITY_TABLE).labels
        add(
            name,
            "honorific",
            person["prefix"],
            code=civility if known else "",
            codingScheme=nodes.oid(codes.table(CIVILITY_TABLE).oid),
        )
    if given:
        add(name, "forename", given)
    if family:
        add(name, "surname", family)
    for telecom in bare_telecoms(practitioner.record.contacts):
        nodes.contact_point(demographic, telecom, (practitioner.created, practitioner.record.last_updated))
    facilities = add(element, "facilities")
    add(facilities, "facility", entityID=facility_entity)
    for code in role.codes("savoir_faire"):
        credential = add(element, "credential")
        nodes.coded(credential, "codedType", "TRE_R38", code)
        add(credential, "number", person["idnat_ps"] or "")
    status = add(nodes.extension(element), "operationalStatus")
    nodes.coded(status, "exerciceModeInUnit", "TRE_R23", role.role["exercise_mode_code"])
    for telecom in bare_telecoms(role.record.contacts)[:1]:
        nodes.contact_point(status, telecom, stamps)
    nodes.record(status, *stamps)
    nodes.record(element, *stamps)
    return element
