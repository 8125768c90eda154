"""Practitioners and their PractitionerRoles (one per situation opérationnelle, on one offer)."""

from __future__ import annotations

import random

from rorsync.simulator.world import contacts, names
from rorsync.simulator.world.elements import Json, concept, identifier, reference, telecom
from rorsync.simulator.world.ids import IdAllocator
from rorsync.simulator.world.stamps import Stamp, skeleton
from rorsync.sources.fhir import profile

PROFESSIONS = (("10", 4), ("60", 4), ("35", 2), ("70", 1), ("50", 1), ("21", 1), ("91", 1), ("94", 1), ("96", 1))
DOCTOR = "10"
DOCTOR_SPECIALTIES = ("SM02", "SM04", "SM05", "SM18", "SM20", "SM26", "SM27", "SM32", "SM36")


def practitioner(ids: IdAllocator, rng: random.Random, stamp: Stamp, *, doctor: bool) -> Json:
    given, family = names.person(rng)
    resource = skeleton("Practitioner", ids.logical_id("Practitioner"), stamp)
    name: Json = {"use": "official", "family": family.upper(), "given": [given]}
    if doctor:
        name["prefix"] = ["Dr"]
    resource.update(
        identifier=[identifier(ids.rpps(), profile.SYSTEM_IDNAT_PS)],
        name=[name],
        telecom=[telecom("3", f"{names.slug(given + '.' + family)}@medecin.mssante.fr", 2)],
    )
    if rng.random() < 0.3:
        resource["telecom"].extend(contacts.telecoms(rng, stamp.region, 2, family, 1))
    return resource


def practitioner_role(
    ids: IdAllocator,
    rng: random.Random,
    stamp: Stamp,
    *,
    practitioner_id: str,
    offer_id: str,
    organization_id: str,
    profession: str,
) -> Json:
    resource = skeleton("PractitionerRole", ids.logical_id("PractitionerRole"), stamp)
    exercise_mode = rng.choices(("S", "L", "B"), weights=(8, 2, 0.2))[0]
    resource["extension"].append(
        {"url": profile.EXT_ROLE_EXERCISE_MODE, "valueCodeableConcept": concept("TRE_R23", exercise_mode)}
    )
    resource.update(
        identifier=[identifier(f"1{ids.take('situation'):010d}")],
        active=True,
        practitioner=reference("Practitioner", practitioner_id),
        organization=reference("Organization", organization_id),
        healthcareService=[reference("HealthcareService", offer_id)],
        code=[concept("TRE_G15", profession)],
    )
    if profession == DOCTOR:
        resource["specialty"] = [concept("TRE_R38", rng.choice(DOCTOR_SPECIALTIES))]
    if rng.random() < 0.4:
        resource["telecom"] = contacts.telecoms(rng, stamp.region, 1, "secretariat", 1)
    return resource


def pick_profession(rng: random.Random) -> str:
    professions, weights = zip(*PROFESSIONS, strict=True)
    picked: str = rng.choices(professions, weights=weights)[0]
    return picked
