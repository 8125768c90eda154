"""The child rows a mapper fills next to its entity row."""

from __future__ import annotations

from dataclasses import dataclass, field

from rorsync.model import CapacityRow, CodeRow, ContactRow, EquipmentRow, ResidentialCapacityRow


@dataclass(slots=True)
class Children:
    codes: list[CodeRow] = field(default_factory=list)
    contacts: list[ContactRow] = field(default_factory=list)
    capacities: list[CapacityRow] = field(default_factory=list)
    equipment: list[EquipmentRow] = field(default_factory=list)
    residential: list[ResidentialCapacityRow] = field(default_factory=list)
    location_refs: list[str] = field(default_factory=list)
