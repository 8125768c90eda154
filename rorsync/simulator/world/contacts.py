"""Contacts and telecoms at the three confidentiality levels (TRE_R283), in their two ROR shapes.

Organizations use ``Organization.contact`` with ``ror-contact-confidentiality-level``; offers use the
``ror-healthcareservice-contact`` extension. In both, a telecom's level is never below its contact's
(rule RG_EXP_034), and every telecom carries its channel and its own level.
"""

from __future__ import annotations

import random
from itertools import accumulate

from rorsync.simulator.world import names
from rorsync.simulator.world.elements import Json, concept, level_concept, telecom
from rorsync.sources.fhir import profile

LEVEL_WEIGHTS = (0.5, 0.35, 0.15)
_LEVELS_FROM = {floor: (tuple(range(floor, 4)), tuple(accumulate(LEVEL_WEIGHTS[floor - 1 :]))) for floor in (1, 2, 3)}
_DOMAIN = "sante.example.fr"


def pick_level(rng: random.Random, floor: int = 1) -> int:
    levels, cumulative = _LEVELS_FROM[floor]
    return rng.choices(levels, cum_weights=cumulative)[0]


def telecoms(rng: random.Random, region: str, floor: int, label: str, count: int) -> list[Json]:
    """``count`` telecoms at levels ≥ ``floor``: phones, e-mails, the odd fax or alert line."""
    found = []
    for _ in range(count):
        level = pick_level(rng, floor)
        channel = rng.choices(("2", "1", "3", "6", "8", "9"), weights=(5, 2, 3, 1, 1, 1))[0]
        if channel in ("3", "9"):
            value = f"{names.slug(label)}@{_DOMAIN}"
        elif channel == "1":
            value = names.mobile(rng)
        else:
            value = names.phone(rng, region)
        found.append(telecom(channel, value, level))
    return found


def mss_mailbox(rng: random.Random, label: str) -> Json:
    """The MSSanté mailbox of a structure or offer (public or restricted)."""
    return telecom("3", f"{names.slug(label)}@{names.slug(label)[:12]}.mssante.fr", rng.choice((1, 2)))


def organization_contacts(rng: random.Random, region: str, count: int) -> list[Json]:
    found = []
    for _ in range(count):
        level = pick_level(rng)
        given, family = names.person(rng)
        contact: Json = {
            "extension": [
                {"url": profile.EXT_CONTACT_CONFIDENTIALITY, "valueCodeableConcept": level_concept(level)},
                {
                    "url": profile.EXT_CONTACT_FUNCTION,
                    "valueCodeableConcept": concept("TRE_R251", _function(rng), display=False),
                },
            ],
            "purpose": concept("TRE_R287", rng.choice(("01", "03", "04", "06"))),
            "name": {"family": family, "given": [given]},
            "telecom": telecoms(rng, region, level, f"{given}.{family}", rng.randint(1, 2)),
        }
        found.append(contact)
    return found


def offer_contacts(rng: random.Random, region: str, count: int) -> list[Json]:
    found = []
    for _ in range(count):
        level = pick_level(rng)
        purpose = rng.choice(("01", "02", "03", "04", "05", "06"))
        sub: list[Json] = []
        if rng.random() < 0.6:
            given, family = names.person(rng)
            sub.append({"url": profile.HS_CONTACT_NAME, "valueHumanName": {"family": family, "given": [given]}})
        sub.append(
            {
                "url": profile.EXT_CONTACT_FUNCTION,
                "valueCodeableConcept": concept("TRE_R251", _function(rng), display=False),
            }
        )
        sub.append(
            {"url": profile.HS_CONTACT_PURPOSE, "valueCodeableConcept": concept("TRE_R287", purpose, display=False)}
        )
        if rng.random() < 0.3:
            sub.append({"url": profile.HS_CONTACT_DESCRIPTION, "valueString": "Joignable du lundi au vendredi"})
        sub.append({"url": profile.EXT_CONFIDENTIALITY, "valueCodeableConcept": level_concept(level)})
        for point in telecoms(rng, region, level, f"contact.{purpose}", rng.randint(1, 2)):
            sub.append(_offer_contact_telecom(point))
        found.append({"url": profile.EXT_HS_CONTACT, "extension": sub})
    return found


def _offer_contact_telecom(point: Json) -> Json:
    """The extension form of a telecom inside ``ror-healthcareservice-contact``."""
    return {
        "url": profile.EXT_HS_CONTACT_TELECOM,
        "extension": [{"url": profile.HS_CONTACT_TELECOM_ADDRESS, "valueString": point["value"]}, *point["extension"]],
    }


def _function(rng: random.Random) -> str:
    return rng.choice(("01", "03", "04", "05", "08", "09", "10", "11", "12"))
