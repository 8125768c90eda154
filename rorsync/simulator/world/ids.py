"""Identifier sequences of the world: logical ids and business numbers, persisted with the world.

Sequences rather than random draws keep every identifier unique without a lookup, and keep the world
deterministic: generation consumes them in a fixed order, the change feed continues where it stopped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

# Logical ids are numeric strings, as on the national server; each type has its own range so an id
# read in a log says what it is.
ID_BASES = {
    "Organization": 1_000_000,
    "HealthcareService": 20_000_000,
    "Location": 40_000_000,
    "PractitionerRole": 60_000_000,
    "Practitioner": 80_000_000,
}


@dataclass(slots=True)
class IdAllocator:
    counters: dict[str, int] = field(default_factory=dict)

    def take(self, sequence: str) -> int:
        value = self.counters.get(sequence, 0) + 1
        self.counters[sequence] = value
        return value

    def logical_id(self, resource_type: str) -> str:
        return str(ID_BASES[resource_type] + self.take(resource_type))

    def regional_number(self, kind: str, region: str, width: int = 7) -> str:
        """``<region>/<n>``: the shape of offer, location and OI identifiers (``11/0339772``)."""
        return f"{region}/{self.take(kind):0{width}d}"

    def finess(self, prefix: str) -> str:
        serial = str(self.take("finess"))
        return f"{prefix}{serial.zfill(8 - len(prefix))}{luhn_digit(prefix + serial)}"[:9]

    def siren(self) -> str:
        body = f"{30_000_000 + self.take('siren'):08d}"
        return body + luhn_digit(body)

    def siret(self, siren: str) -> str:
        body = f"{siren}{self.take('siret') % 10_000:04d}"
        return body + luhn_digit(body)

    def rpps(self) -> str:
        return f"1{10_000_000_000 + self.take('rpps'):010d}"[-11:]

    def dumps(self) -> str:
        return json.dumps(self.counters, sort_keys=True)

    @classmethod
    def loads(cls, text: str) -> IdAllocator:
        return cls(dict(json.loads(text)))


def luhn_digit(digits: str) -> str:
    """The Luhn check digit SIREN and SIRET numbers end with (non-digits count as 0)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) if char.isdigit() else 0
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)
