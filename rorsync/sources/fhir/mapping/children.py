"""The child rows a mapper fills next to its entity row."""

from __future__ import annotations

from rorsync.model import CapacityRow, CodeRow, ContactRow, EquipmentRow, ResidentialCapacityRow


class Children:
    __slots__ = ("capacities", "codes", "contacts", "equipment", "location_refs", "residential")

    def __init__(self) -> None:  # plain list literals: one of these is built per resource
        self.codes: list[CodeRow] = []
        self.contacts: list[ContactRow] = []
        self.capacities: list[CapacityRow] = []
        self.equipment: list[EquipmentRow] = []
        self.residential: list[ResidentialCapacityRow] = []
        self.location_refs: list[str] = []
