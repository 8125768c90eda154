"""FHIR capacity indicators → the v2.4 capacity elements, which carry far less (csd-mev24 §8).

=======================================  ==================================================
CSD v2.4                                 FHIR indicators it sums (of one capacity type)
=======================================  ==================================================
``beds|space/@total``                    installed (01), current (temporality 01)
``beds|space/@avaible`` (sic)            available (02), current, all genders, no temporary
                                         assignment (TRE_R337 ``01`` or none)
``crisisAccomodationCapacity/…T0``       supplementary (06), current, all bed types
``crisisAccomodationCapacity/…T60``      supplementary (06), forecast 1 h (temporality 02)
=======================================  ==================================================

``beds`` are TRE_R329 ``01`` (lit), ``space`` ``02`` (place); ``@updateDate`` is the latest
``capacityUpdateDate`` of the lines summed. Occupied, reserved and closed lines, other forecasts,
lines assigned to a temporary purpose, gender and source have no v2.4 element.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from rorsync.model import CapacityRow

INSTALLED: Final = "01"
AVAILABLE: Final = "02"
SUPPLEMENTARY: Final = "06"
CURRENT: Final = "01"
FORECAST_ONE_HOUR: Final = "02"
NO_ASSIGNMENT: Final = frozenset({"", "01"})
ACCOMMODATION_ELEMENTS: Final = (("beds", "01"), ("space", "02"))


@dataclass(frozen=True, slots=True)
class Count:
    """A sum of indicator lines and the latest update among them."""

    nb: int
    updated: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Accommodation:
    element: str  # beds or space
    total: Count | None
    available: Count | None

    @property
    def updated(self) -> dt.datetime | None:
        found = [count.updated for count in (self.total, self.available) if count and count.updated]
        return max(found, default=None)


def _sum(lines: Iterable[CapacityRow]) -> Count | None:
    chosen = list(lines)
    if not chosen:
        return None
    updates = [line["updated_at"] for line in chosen if line["updated_at"] is not None]
    return Count(sum(line["nb"] for line in chosen), max(updates, default=None))


def accommodation(lines: list[CapacityRow]) -> list[Accommodation]:
    """``beds`` / ``space`` of one location, for the capacity types it has installed or available lines of."""
    found = []
    for element, capacity_type in ACCOMMODATION_ELEMENTS:
        of_type = [line for line in lines if line["capacity_type"] == capacity_type and line["temporality"] == CURRENT]
        total = _sum(line for line in of_type if line["status"] == INSTALLED)
        available = _sum(
            line for line in of_type if line["status"] == AVAILABLE and line["temporary_assignment"] in NO_ASSIGNMENT
        )
        if total is not None or available is not None:
            found.append(Accommodation(element, total, available))
    return found


def crisis(lines: list[CapacityRow]) -> tuple[Count, Count] | None:
    """(T0, T60) from the supplementary lines, or ``None`` when the location has none."""
    supplementary = [line for line in lines if line["status"] == SUPPLEMENTARY]
    if not supplementary:
        return None
    now = _sum(line for line in supplementary if line["temporality"] == CURRENT) or Count(0, None)
    later = _sum(line for line in supplementary if line["temporality"] == FORECAST_ONE_HOUR) or Count(0, None)
    return now, later
