"""Locations: where offers are delivered, with bed/place capacity, residential capacity and equipment.

Capacity indicators (``ror-location-supported-capacity``) cover every status of TRE_R330 that the ROR
publishes: installed, available by gender, occupied, reserved, closed (with a closing type) and
supplementary (with an additional-bed type and, in a crisis, a crisis type); a few carry a temporary
assignment other than "Aucune" and a few are forecasts (temporality other than "Courant").
"""

from __future__ import annotations

import random

from rorsync.simulator.world import contacts
from rorsync.simulator.world.elements import Json, coding, concept, identifier, reference, sub_extension, type_coding
from rorsync.simulator.world.geography import Place, address
from rorsync.simulator.world.ids import IdAllocator
from rorsync.simulator.world.index import capacity_code, capacity_count
from rorsync.simulator.world.instants import MICROS_PER_SECOND, fhir_instant, truncate_to_millis
from rorsync.simulator.world.stamps import Stamp, skeleton
from rorsync.sources.fhir import profile

CapacityKey = tuple[str, ...]  # status, temporality, gender, closing, additional bed, crisis, assignment
HOUR = 3600 * MICROS_PER_SECOND


def location(
    ids: IdAllocator,
    rng: random.Random,
    stamp: Stamp,
    place: Place,
    *,
    name: str,
    function: str,
    establishment_nat_struct: str,
    medico_social: bool,
    managing_organization: str | None = None,
) -> Json:
    """A Location; lodging places (function ``001``) carry capacity indicators."""
    resource = skeleton("Location", ids.logical_id("Location"), stamp)
    extensions: list[Json] = resource["extension"]
    extensions.insert(
        0, {"url": profile.EXT_LOC_COMMUNE_COG, "valueCodeableConcept": concept("TRE_R13", place.commune)}
    )
    if function == "001":
        extensions.extend(capacity_extensions(rng, stamp.last_updated, medico_social))
        if medico_social:
            for residential_type in rng.sample(("01", "02", "03", "04", "05"), rng.randint(1, 2)):
                extensions.append(_residential(residential_type, rng.randint(5, 80)))
    if rng.random() < (0.05 if medico_social else 0.2):
        extensions.append(_equipment(rng))
    identifiers = [
        identifier(
            ids.regional_number("location", stamp.region),
            type_coding=type_coding(profile.ID_TYPE_R354, profile.LOCATION_IDENTIFIER_TYPE),
        )
    ]
    if rng.random() < 0.4:
        external = f"{establishment_nat_struct}/{name.split(maxsplit=1)[0][:3].upper()}{ids.take('external'):05d}"
        identifiers.append(
            identifier(external, type_coding=type_coding(profile.ID_TYPE_R354, profile.LOCATION_SYNC_ID_TYPE))
        )
    resource.update(
        identifier=identifiers,
        status="active",
        operationalStatus=_operational_status("OP"),
        name=name,
        description=f"{name} - {place.city}",
        type=[
            {
                "coding": [
                    {
                        "system": profile.LOCATION_FUNCTION_SYSTEM,
                        "code": function,
                        "display": profile.LOCATION_FUNCTIONS[function],
                    }
                ]
            }
        ],
        telecom=contacts.telecoms(rng, place.region, 1, name, rng.randint(1, 3)),
        address=address(rng, place),
        position={
            "extension": [{"url": profile.EXT_LOC_COORDINATE_RELIABILITY, "valueBoolean": rng.random() < 0.9}],
            "longitude": place.longitude,
            "latitude": place.latitude,
        },
    )
    if managing_organization is not None:
        resource["managingOrganization"] = reference("Organization", managing_organization)
    return resource


def capacity_extensions(rng: random.Random, at: int, medico_social: bool) -> list[Json]:
    """A consistent set of indicators: counts never exceed the installed capacity."""
    nature = "02" if medico_social and rng.random() < 0.5 else "01"
    installed = rng.randint(4, 40)
    source = rng.choice(("01", "01", "02", "03", "04"))
    updated = truncate_to_millis(at - rng.randrange(48 * HOUR))
    lines: dict[CapacityKey, int] = {("01", "01", "", "", "", "", "01"): installed}
    for gender in rng.sample(("01", "02", "04"), rng.randint(1, 3)):
        lines["02", "01", gender, "", "", "", "01"] = rng.randint(0, installed // 3)
    if rng.random() < 0.3:
        lines["02", rng.choice(("02", "03", "04", "05")), "04", "", "", "", "01"] = rng.randint(0, installed // 2)
    if rng.random() < 0.6:
        lines["03", "01", "", "", "", "", "01"] = rng.randint(0, installed)
    if rng.random() < 0.25:
        lines["04", "01", "", "", "", "", "01"] = rng.randint(0, 3)
    if rng.random() < 0.3:
        lines["05", "01", "", rng.choice(("01", "02", "03")), "", "", "01"] = rng.randint(1, 4)
    if rng.random() < 0.3:
        crisis = rng.choice(("", "", "01", "02"))
        lines["06", "01", "", "", rng.choice(("01", "02", "03")), crisis, "01"] = rng.randint(0, 6)
    if rng.random() < 0.08:
        lines["02", "01", "04", "", "", "", rng.choice(("02", "03"))] = rng.randint(0, 5)
    return [capacity_extension(nature, key, nb, source, updated) for key, nb in lines.items()]


def capacity_extension(nature: str, key: CapacityKey, nb: int, source: str, updated: int) -> Json:
    status, temporality, gender, closing, additional, crisis, assignment = key
    subs: list[Json] = [
        _capacity_code("capacity_type", nature),
        _capacity_code("status", status),
        _capacity_code("temporality", temporality),
        {"url": profile.CAPACITY_NB, "valueInteger": nb},
        _cc(profile.CAPACITY_SOURCE_TYPE, profile.CAPACITY_TABLES["source_type"], source),
    ]
    if gender:
        subs.append(_capacity_code("gender", gender))
    subs.append({"url": profile.CAPACITY_UPDATE_DATE, "valueDateTime": fhir_instant(updated)})
    for field, code in (("closing_type", closing), ("additional_bed_type", additional), ("crisis_type", crisis)):
        if code:
            subs.append(_capacity_code(field, code))
    subs.append(_capacity_code("temporary_assignment", assignment))
    return {"url": profile.EXT_LOC_SUPPORTED_CAPACITY, "extension": subs}


def refresh_capacity(resource: Json, rng: random.Random, at: int) -> bool:
    """A bed-management update: operational counts move, ``capacityUpdateDate`` becomes ``at``.

    Returns False when the Location has no capacity to update.
    """
    lines = [ext for ext in resource.get("extension", ()) if ext["url"] == profile.EXT_LOC_SUPPORTED_CAPACITY]
    installed = max((capacity_count(line) for line in lines if capacity_code(line, "status") == "01"), default=0)
    changed = False
    for line in lines:
        if capacity_code(line, "status") in ("02", "03", "04", "06"):
            nb_sub = sub_extension(line, profile.CAPACITY_NB)
            if nb_sub is not None:
                nb_sub["valueInteger"] = max(0, min(installed, nb_sub["valueInteger"] + rng.randint(-2, 2)))
            date_sub = sub_extension(line, profile.CAPACITY_UPDATE_DATE)
            if date_sub is not None:
                date_sub["valueDateTime"] = fhir_instant(at)
            changed = True
    return changed


def close_location(resource: Json, definitive: bool) -> None:
    """Closure, not deletion: operational status ``FD`` (definitive) or ``FT`` (temporary)."""
    resource["operationalStatus"] = _operational_status("FD" if definitive else "FT")
    resource["status"] = "inactive" if definitive else "suspended"


def _operational_status(code: str) -> Json:
    return {"system": profile.OPERATIONAL_STATUS_SYSTEM, "code": code, "display": profile.OPERATIONAL_STATUSES[code]}


def _residential(residential_type: str, number: int) -> Json:
    return {
        "url": profile.EXT_LOC_RESIDENTIAL_CAPACITY,
        "extension": [
            _cc(profile.RESIDENTIAL_TYPE, "TRE_R242", residential_type),
            {"url": profile.RESIDENTIAL_NUMBER, "valueInteger": number},
        ],
    }


def _equipment(rng: random.Random) -> Json:
    equipment = rng.choice(("003", "005", "009", "010", "017", "021", "030", "040", "041", "047"))
    subs: list[Json] = [
        _cc(profile.EQUIPMENT_TYPE, "TRE_R212", equipment),
        {"url": profile.EQUIPMENT_NB_IN_SERVICE, "valueInteger": rng.randint(1, 4)},
    ]
    if rng.random() < 0.5:
        subs.append(
            {
                "url": profile.EXT_LOC_EQUIPMENT_LIMIT,
                "extension": [
                    _cc(profile.EQUIPMENT_LIMIT_FEATURE, "TRE_R340", rng.choice(("001", "002"))),
                    {
                        "url": profile.EQUIPMENT_LIMIT_VALUE,
                        "valueQuantity": {
                            "value": rng.choice((120, 150, 200, 250)),
                            "unit": "kg",
                            "system": profile.UCUM,
                            "code": "kg",
                        },
                    },
                ],
            }
        )
    return {"url": profile.EXT_LOC_EQUIPMENT, "extension": subs}


def _capacity_code(field: str, code: str) -> Json:
    return _cc(profile.CAPACITY_SUBEXTENSION_URLS[field], profile.CAPACITY_TABLES[field], code)


def _cc(url: str, table_id: str, code: str) -> Json:
    return {"url": url, "valueCodeableConcept": {"coding": [coding(table_id, code, display=False)]}}
