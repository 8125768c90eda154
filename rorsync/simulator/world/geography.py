"""Where synthetic establishments stand: real regions, départements and communes (NOS TRE_R30/G09/R13).

Regions are weighted roughly by population so that the national preset looks like France; positions
are jittered around a rough regional centre (good enough for ``near`` searches and maps).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache
from typing import Any

from rorsync import codes
from rorsync.simulator.world import names

ADXP = "http://hl7.org/fhir/StructureDefinition/iso21090-ADXP-"

# (region code TRE_R30, weight ~ population in millions, latitude, longitude of a rough centre)
REGIONS: tuple[tuple[str, float, float, float], ...] = (
    ("11", 12.3, 48.71, 2.50),
    ("24", 2.6, 47.48, 1.68),
    ("27", 2.8, 47.24, 4.81),
    ("28", 3.3, 49.12, 0.11),
    ("32", 6.0, 49.97, 2.79),
    ("44", 5.6, 48.69, 5.62),
    ("52", 3.8, 47.47, -0.82),
    ("53", 3.4, 48.18, -2.84),
    ("75", 6.0, 45.19, 0.20),
    ("76", 6.0, 43.70, 2.14),
    ("84", 8.1, 45.51, 4.54),
    ("93", 5.1, 43.96, 6.06),
    ("94", 0.35, 42.15, 9.10),
    ("01", 0.38, 16.19, -61.57),
    ("02", 0.36, 14.64, -61.02),
    ("03", 0.29, 4.00, -53.00),
    ("04", 0.87, -21.13, 55.53),
    ("06", 0.31, -12.83, 45.14),
)
REGION_CODES: tuple[str, ...] = tuple(code for code, *_ in REGIONS)
_WEIGHTS: tuple[float, ...] = tuple(weight for _, weight, *_ in REGIONS)
_CENTRES = {code: (lat, lon) for code, _, lat, lon in REGIONS}


@dataclass(frozen=True, slots=True)
class Place:
    region: str
    department: str
    commune: str  # TRE_R13 INSEE code
    city: str
    postal_code: str
    latitude: float
    longitude: float


def pick_region(rng: random.Random) -> str:
    return rng.choices(REGION_CODES, weights=_WEIGHTS)[0]


@cache
def departments_of(region: str) -> tuple[str, ...]:
    found = tuple(
        sorted(dep for dep in codes.table("TRE_G09").current_codes() if codes.region_of_department(dep) == region)
    )
    if not found:
        raise ValueError(f"region {region} has no département in the NOS tables")
    return found


@cache
def _communes_by_department() -> dict[str, tuple[str, ...]]:
    grouped: dict[str, list[str]] = {}
    for code in codes.table("TRE_R13").current_codes():
        grouped.setdefault(_department_of_commune(code), []).append(code)
    return {department: tuple(found) for department, found in grouped.items()}


def _communes_of(department: str) -> tuple[str, ...]:
    return _communes_by_department().get(department, ())


def _department_of_commune(commune: str) -> str:
    return commune[:3] if commune.startswith("97") else commune[:2]


def pick_place(rng: random.Random, region: str) -> Place:
    candidates = [dep for dep in departments_of(region) if _communes_of(dep)]
    department = rng.choice(candidates)
    commune = rng.choice(_communes_of(department))
    lat, lon = _CENTRES[region]
    digits = "20" if department in ("2A", "2B") else department[:2]
    postal = f"{digits}{commune[len(department) :]}".ljust(5, "0")[:5]
    return Place(
        region=region,
        department=department,
        commune=commune,
        city=codes.table("TRE_R13").labels[commune].rsplit(" (", 1)[0],
        postal_code=postal,
        latitude=round(lat + rng.uniform(-0.9, 0.9), 6),
        longitude=round(lon + rng.uniform(-1.2, 1.2), 6),
    )


def finess_prefix(department: str) -> str:
    """The first characters of a FINESS number for ``department`` (two for mainland and Corsica, ``97x`` overseas)."""
    return department if len(department) == 3 else department[:2]


def address(rng: random.Random, place: Place) -> dict[str, Any]:
    """A postal address with the ISO 21090 ADXP parts the ROR fills on ``address.line``."""
    number = str(rng.randint(1, 180))
    street_type, street_word = rng.choice(names.STREET_TYPES)
    street = rng.choice(names.STREET_NAMES)
    return {
        "line": [f"{number} {street_word} {street}"],
        "_line": [
            {
                "extension": [
                    {"url": f"{ADXP}houseNumber", "valueString": number},
                    {"url": f"{ADXP}streetNameType", "valueString": street_type},
                    {"url": f"{ADXP}streetNameBase", "valueString": street},
                ]
            }
        ],
        "city": place.city,
        "postalCode": place.postal_code,
        "country": "FRA",
    }
