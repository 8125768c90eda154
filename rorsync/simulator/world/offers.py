"""HealthcareService: the operational offer, the unit the access policy reasons about.

An offer names its champ d'activité (TRE_R227; ``04`` médico-social drives profile 3), its sensitivity
(``ror-healthcareservice-sensitive-unit``), its public and restricted characteristics, opening hours,
contacts at every confidentiality level and, when closed, a ``notAvailable`` period.
"""

from __future__ import annotations

import random
from functools import cache

from rorsync import codes
from rorsync.simulator.world import contacts
from rorsync.simulator.world.elements import Json, concept, identifier, reference, type_coding
from rorsync.simulator.world.ids import IdAllocator
from rorsync.simulator.world.instants import fhir_instant
from rorsync.simulator.world.stamps import Stamp, skeleton
from rorsync.sources.fhir import profile

CARE_MODES = {
    "01": ("28", "29", "13", "09", "32", "33", "20", "31"),
    "02": ("28", "29", "34", "32"),
    "03": ("28", "29", "11", "32", "41", "38"),
    "04": ("46", "47", "48", "49", "50", "54", "42"),
    "05": ("32", "20", "26", "56", "57"),
}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SENSITIVE_SHARE = 0.04


@cache
def _current(table_id: str) -> tuple[str, ...]:
    return tuple(codes.table(table_id).current_codes())


def offer(
    ids: IdAllocator,
    rng: random.Random,
    stamp: Stamp,
    *,
    provided_by: str,
    locations: list[str],
    activity_field: str,
    sensitive: bool,
) -> Json:
    specialties = rng.sample(_current("TRE_R211"), rng.choice((1, 1, 1, 2)))
    care_mode = rng.choice(CARE_MODES[activity_field])
    name = f"{rng.randint(1000, 9999)} {codes.label('TRE_R211', specialties[0])} - {codes.label('TRE_R213', care_mode)}"
    resource = skeleton("HealthcareService", ids.logical_id("HealthcareService"), stamp)
    extensions: list[Json] = resource["extension"]
    extensions.append({"url": profile.EXT_HS_SENSITIVE_UNIT, "valueBoolean": sensitive})
    extensions.append(_patient_type(rng, activity_field))
    extensions.extend(contacts.offer_contacts(rng, stamp.region, rng.choice((1, 1, 2, 3))))
    resource.update(
        identifier=[
            identifier(
                ids.regional_number("offer", stamp.region),
                type_coding=type_coding(profile.ID_TYPE_R355, profile.OFFER_IDENTIFIER_TYPE),
            )
        ],
        active=True,
        providedBy=reference("Organization", provided_by),
        category=[concept("TRE_R244", rng.choice(_current("TRE_R244")))],
        type=[concept("TRE_R227", activity_field)],
        specialty=[concept("TRE_R211", code) for code in specialties],
    )
    if locations:
        resource["location"] = [reference("Location", location_id) for location_id in locations]
    resource["name"] = name.upper() if rng.random() < 0.5 else name
    resource["characteristic"] = _characteristics(rng, care_mode, activity_field)
    resource["availableTime"] = _available_time(rng, activity_field)
    if rng.random() < 0.4:
        resource["telecom"] = [contacts.mss_mailbox(rng, name)]
    return resource


def close_offer(resource: Json, closed_at: int, reopening_at: int | None) -> None:
    """Closure, not deletion: ``notAvailable[closingReopeningDate]`` plus the closing type characteristic."""
    during = {"start": fhir_instant(closed_at)}
    if reopening_at is not None:
        during["end"] = fhir_instant(reopening_at)
    resource["notAvailable"] = [{"id": profile.NOT_AVAILABLE_CLOSING_ID, "description": "Fermeture", "during": during}]
    closing = "PRO" if reopening_at is not None else "DEF"
    resource.setdefault("characteristic", []).append(concept("TRE_R286", closing))


def _characteristics(rng: random.Random, care_mode: str, activity_field: str) -> list[Json]:
    found = [concept("TRE_R213", care_mode)]
    if rng.random() < 0.5:
        found.append(concept("TRE_R240", rng.choice(_current("TRE_R240"))))
    if rng.random() < 0.5:
        found.append(concept("TRE_R238", rng.choice(_current("TRE_R238"))))
    if rng.random() < 0.3:
        act = concept("TRE_R210", rng.choice(_current("TRE_R210")))
        kind = profile.ACT_TYPE_OUTSIDE_OFFICE if rng.random() < 0.15 else profile.ACT_TYPE_SPECIFIC
        act["extension"] = [{"url": profile.EXT_ACT_TYPE, "valueCode": kind}]
        found.append(act)
    restricted_share = 0.35 if activity_field in ("03", "04") else 0.12
    for table_id in ("TRE_R245", "TRE_G15", "TRE_R243"):
        if rng.random() < restricted_share:
            found.append(concept(table_id, rng.choice(_current(table_id))))
    return found


def _patient_type(rng: random.Random, activity_field: str) -> Json:
    subs: list[Json] = []
    if activity_field == "04":
        subs.append(
            {
                "url": profile.PATIENT_TYPE_SUPPORTED,
                "valueCodeableConcept": concept("TRE_R239", rng.choice(("01", "02", "03"))),
            }
        )
    low, high = rng.choice(((0, 18), (15, 150), (18, 150), (60, 150), (0, 3), (16, 65)))
    subs.append(
        {"url": profile.PATIENT_TYPE_AGE_RANGE, "valueRange": {"low": _years(rng, low), "high": _years(rng, high)}}
    )
    return {"url": profile.EXT_HS_PATIENT_TYPE, "extension": subs}


def _years(rng: random.Random, value: int) -> Json:
    """Ages in years: ``code=a`` alone today, with the UCUM system after the FR Core move (fhir-mev3 §12)."""
    quantity: Json = {"value": value, "unit": "an(s)", "code": "a"}
    if rng.random() < 0.2:
        quantity["system"] = profile.UCUM
    return quantity


def _available_time(rng: random.Random, activity_field: str) -> list[Json]:
    """Opening hours: one entry per day with the ROR day-number extension (as in the IG example), or a
    single entry listing the days."""
    around_the_clock = activity_field in ("01", "02", "03") or rng.random() < 0.5
    days = DAYS if around_the_clock else DAYS[:5]
    start, end = ("00:00:00", "23:59:00") if around_the_clock else ("08:00:00", "18:00:00")
    hours_type = {
        "url": profile.EXT_AVAILABLE_TIME_TYPE,
        "valueCodeableConcept": concept("TRE_R252", "01", display=False),
    }
    if rng.random() < 0.7:
        return [
            {"extension": [hours_type], "daysOfWeek": list(days), "availableStartTime": start, "availableEndTime": end}
        ]
    return [
        {
            "extension": [
                {"url": profile.EXT_AVAILABLE_TIME_DAYS, "valueInteger": number},
                hours_type,
            ],
            "daysOfWeek": [day],
            "availableStartTime": start,
            "availableEndTime": end,
        }
        for number, day in enumerate(days, start=1)
    ]
