"""Organizations: legal entities (EJ), geographic entities (EG) and internal organizations (OI).

EJ carry SIREN and the legal status (TRE_R72 + aggregate TRE_R69); EG carry FINESS, SIRET and the
establishment category (TRE_R66), and hang under their EJ; OI (pôle, service, UF, UE: TRE_R207) carry the
``https://oi.esante.gouv.fr`` identifier and hang under their EG or a parent OI.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from rorsync.simulator.world import contacts, names
from rorsync.simulator.world.elements import Json, concept, identifier, reference, telecom, type_coding
from rorsync.simulator.world.geography import Place, address, finess_prefix
from rorsync.simulator.world.ids import IdAllocator
from rorsync.simulator.world.instants import fhir_date
from rorsync.simulator.world.stamps import Stamp, skeleton
from rorsync.sources.fhir import profile


@dataclass(frozen=True, slots=True)
class EstablishmentKind:
    """A family of establishments: which categories, which activity fields, how big."""

    name: str
    categories: tuple[str, ...]  # TRE_R66
    activity_fields: tuple[tuple[str, float], ...]  # TRE_R227 code, weight
    legal_statuses: tuple[tuple[str, str], ...]  # (TRE_R72, TRE_R69) pairs
    label: str
    offers_per_unit: tuple[int, int]  # bounds of the number of offers per provider (UF or EG)


HOSPITAL = EstablishmentKind(
    "hospital",
    ("101", "106", "355", "365", "128", "129", "109", "292", "131", "122", "127", "362"),
    (("01", 0.55), ("02", 0.2), ("03", 0.15), ("04", 0.1)),
    (("13", "1200"), ("14", "1200"), ("15", "1200"), ("72", "2200"), ("73", "2200"), ("61", "2100"), ("63", "2100")),
    "Centre hospitalier",
    (1, 9),
)
MEDICO_SOCIAL = EstablishmentKind(
    "medico_social",
    ("500", "501", "183", "186", "255", "448", "449", "246", "354", "209", "182", "190", "207", "390", "202", "460"),
    (("04", 1.0),),
    (("60", "2100"), ("61", "2100"), ("63", "2100"), ("21", "1200"), ("17", "1200"), ("95", "2200")),
    "EHPAD",
    (3, 15),
)
AMBULATORY = EstablishmentKind(
    "ambulatory",
    ("124", "603", "156", "425", "189", "197", "141", "347", "636"),
    (("05", 0.6), ("03", 0.25), ("01", 0.15)),
    (("80", "2200"), ("79", "2200"), ("60", "2100"), ("03", "1100")),
    "Centre de santé",
    (2, 10),
)
KINDS = {kind.name: kind for kind in (HOSPITAL, MEDICO_SOCIAL, AMBULATORY)}


def legal_entity(ids: IdAllocator, rng: random.Random, stamp: Stamp, place: Place, kind: EstablishmentKind) -> Json:
    """An EJ: SIREN, idNatStruct ``2``+SIREN, legal status and its aggregate, no ``partOf``."""
    siren = ids.siren()
    status, aggregate = rng.choice(kind.legal_statuses)
    name = f"{rng.choice(('Association', 'Groupe', 'Fondation', 'Société'))} {rng.choice(names.RESIDENCE_NAMES)}"
    if aggregate == "1200":
        name = f"{kind.label} de {place.city}"
    resource = skeleton("Organization", ids.logical_id("Organization"), stamp)
    resource["extension"].append(_period(stamp.created))
    resource.update(
        identifier=[
            identifier(
                f"2{siren}", profile.SYSTEM_ID_NAT_STRUCT, type_coding(profile.ID_TYPE_G07, profile.ID_NAT_STRUCT_TYPE)
            ),
            identifier(siren, profile.SYSTEM_SIRENE, type_coding(profile.ID_TYPE_G07, "2")),
        ],
        active=True,
        type=[concept("TRE_R72", status), concept("TRE_R69", aggregate)],
        name=name.upper(),
        telecom=[telecom("2", names.phone(rng, place.region), 1)],
        address=[address(rng, place)],
    )
    return resource


def establishment(
    ids: IdAllocator,
    rng: random.Random,
    stamp: Stamp,
    place: Place,
    *,
    legal_entity_id: str,
    kind: EstablishmentKind,
    very_restricted: bool = False,
) -> Json:
    """An EG under its EJ: FINESS whose first digits are its département, SIRET, idNatStruct ``1``+FINESS.

    Hospitals may carry the very restricted drop zone and ORSAN level (``very_restricted`` forces both).
    """
    finess = ids.finess(finess_prefix(place.department))
    siret = ids.siret(ids.siren())
    name = f"{kind.label} {rng.choice(names.RESIDENCE_NAMES)} {place.city}"
    resource = skeleton("Organization", ids.logical_id("Organization"), stamp)
    resource["extension"].append(_period(stamp.created))
    if kind is HOSPITAL:
        if very_restricted or rng.random() < 0.4:
            resource["extension"].append({"url": profile.EXT_ORG_DROP_ZONE, "valueBoolean": rng.random() < 0.7})
        if very_restricted or rng.random() < 0.5:
            orsan = rng.choice(("1", "2", "3"))
            resource["extension"].append(
                {"url": profile.EXT_ORG_ORSAN, "valueCodeableConcept": concept("TRE_R284", orsan)}
            )
    resource.update(
        identifier=[
            identifier(
                f"1{finess}", profile.SYSTEM_ID_NAT_STRUCT, type_coding(profile.ID_TYPE_G07, profile.ID_NAT_STRUCT_TYPE)
            ),
            identifier(finess, profile.SYSTEM_FINESS, type_coding(profile.ID_TYPE_G07, "1")),
            identifier(siret, profile.SYSTEM_SIRENE, type_coding(profile.ID_TYPE_G07, "3")),
        ],
        active=True,
        type=[concept("TRE_R66", rng.choice(kind.categories))],
        name=name.upper(),
        alias=[name],
        telecom=[*contacts.telecoms(rng, place.region, 1, name, 1), contacts.mss_mailbox(rng, name)],
        address=[address(rng, place)],
        partOf=reference("Organization", legal_entity_id),
        contact=contacts.organization_contacts(rng, place.region, rng.randint(1, 3)),
    )
    return resource


def internal_organization(
    ids: IdAllocator, rng: random.Random, stamp: Stamp, parent_id: str, *, level: str, name: str
) -> Json:
    """An OI of TRE_R207 ``level`` (1 pôle, 2 service, 3 UF, 4 UE) under ``parent_id`` (EG or OI)."""
    resource = skeleton("Organization", ids.logical_id("Organization"), stamp)
    resource["extension"].append(_period(stamp.created))
    resource.update(
        identifier=[
            identifier(
                ids.regional_number("oi", stamp.region),
                profile.SYSTEM_OI,
                type_coding(profile.ID_TYPE_R345, profile.OI_IDENTIFIER_TYPE),
            )
        ],
        active=True,
        type=[concept("TRE_R207", level)],
        name=name,
        partOf=reference("Organization", parent_id),
    )
    if rng.random() < 0.2:
        resource["contact"] = contacts.organization_contacts(rng, stamp.region, 1)
    return resource


def close_organization(resource: Json, rng: random.Random, closed_at: int, reopening_at: int | None) -> None:
    """Closure, not deletion: ``organization-period.end``, the closing type and a planned reopening (OI only)."""
    for ext in resource["extension"]:
        if ext["url"] == profile.EXT_ORGANIZATION_PERIOD:
            ext["valuePeriod"]["end"] = fhir_date(closed_at)
    closing_type = "PRO" if reopening_at is not None else rng.choice(("DEF", "DEF", "CHP", "ERR"))
    resource["extension"].append(
        {"url": profile.EXT_ORG_CLOSING_TYPE, "valueCodeableConcept": concept("TRE_R286", closing_type)}
    )
    if reopening_at is not None:
        resource["extension"].append({"url": profile.EXT_ORG_REOPENING_DATE, "valueDate": fhir_date(reopening_at)})


def _period(opened: int) -> Json:
    return {"url": profile.EXT_ORGANIZATION_PERIOD, "valuePeriod": {"start": fhir_date(opened)}}
