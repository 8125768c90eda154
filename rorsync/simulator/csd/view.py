"""One establishment as a profile sees it: the redacted world resources with the rows they map to.

The CSD view is rendered from the rows rorsync's FHIR mapper reads from the *same redacted
resources* a FHIR client of that profile receives (``record_from_resource``), so a mirror built over
CSD and one built over FHIR describe the same offer by construction, and the access policy is
applied once, by the FHIR :class:`~rorsync.simulator.fhir.filtering.Redactor`. The raw resource is
consulted only for what the row contract does not keep (the creation date).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import cast

from rorsync.model import OfferRow, OrganizationKind, OrganizationRow, PractitionerRoleRow, Record
from rorsync.simulator.world.elements import Json, extension_value
from rorsync.simulator.world.instants import from_micros, parse_instant
from rorsync.simulator.world.store import WorldResource
from rorsync.sources.fhir import profile
from rorsync.sources.fhir.parse import record_from_resource

UE_TYPE = "4"  # TRE_R207 unité élémentaire: in CSD the UE *is* the offer


@dataclass(frozen=True, slots=True)
class Item:
    """A world resource as one profile receives it, and the record the FHIR mapper reads from it."""

    resource: Json
    record: Record
    created: dt.datetime

    @property
    def resource_id(self) -> str:
        return self.record.resource_id

    @property
    def stamps(self) -> tuple[dt.datetime, dt.datetime]:
        """(created, updated) for ``record`` elements."""
        return self.created, self.record.last_updated

    @property
    def organization(self) -> OrganizationRow:
        return cast(OrganizationRow, self.record.row)

    @property
    def offer(self) -> OfferRow:
        return cast(OfferRow, self.record.row)

    @property
    def role(self) -> PractitionerRoleRow:
        return cast(PractitionerRoleRow, self.record.row)

    def codes(self, *kinds: str) -> list[str]:
        return [row["code"] for row in self.record.codes if row["kind"] in kinds]


Shaper = Callable[[WorldResource], Json | None]
"""A world resource as the caller's profile receives it, or ``None`` when it may not see it."""


def item_of(resource: WorldResource, shape: Shaper) -> Item | None:
    body = shape(resource)
    if body is None:
        return None
    record = record_from_resource(body, b"")
    if record is None:  # not one of the five ROR types: the world holds none
        return None
    created_text = extension_value(body, profile.EXT_CREATION_DATE, "valueDateTime")
    created = from_micros(parse_instant(created_text)) if created_text else record.last_updated
    return Item(body, record, created)


@dataclass(slots=True)
class EstablishmentView:
    """An EG with everything under it that the profile may see; ``internal`` holds pôles, services, UFs."""

    legal_entity: Item | None
    establishment: Item
    internal: dict[str, Item] = field(default_factory=dict)
    offers: dict[str, Item] = field(default_factory=dict)
    locations: dict[str, Item] = field(default_factory=dict)
    roles: list[Item] = field(default_factory=list)
    practitioners: dict[str, Item] = field(default_factory=dict)
    parents: dict[str, str] = field(default_factory=dict)  # every OI (UEs included) → its parent organization

    def ancestors(self, organization_id: str) -> Iterator[str]:
        """``organization_id`` and the organizations above it, up to (excluding) the EG."""
        seen: set[str] = set()
        current: str | None = organization_id
        while current is not None and current in self.parents and current not in seen:
            seen.add(current)
            yield current
            current = self.parents[current]

    def rendered_parent(self, organization_id: str | None) -> str:
        """The nearest rendered organization at or above ``organization_id``: an OI of ``internal``, else the EG."""
        for candidate in self.ancestors(organization_id or ""):
            if candidate in self.internal:
                return candidate
        return self.establishment.resource_id


def load_view(
    establishment_id: str,
    members: Iterable[WorldResource],
    legal_entity: WorldResource | None,
    shape: Shaper,
) -> EstablishmentView | None:
    """Sort an EG's world resources into a view; ``None`` when the EG is not among them."""
    establishment: Item | None = None
    internal: dict[str, Item] = {}
    parents: dict[str, str] = {}
    offers: dict[str, Item] = {}
    locations: dict[str, Item] = {}
    roles: list[Item] = []
    practitioners: dict[str, Item] = {}
    for member in members:
        item = item_of(member, shape)
        if item is None:
            continue
        kind = member.resource_type
        if kind == "Organization":
            row = item.organization
            if member.resource_id == establishment_id:
                establishment = item
            elif row["kind"] == OrganizationKind.OI:
                parents[item.resource_id] = row["parent_ref"] or establishment_id
                if row["oi_type_code"] != UE_TYPE:
                    internal[item.resource_id] = item
        elif kind == "HealthcareService":
            offers[item.resource_id] = item
        elif kind == "Location":
            locations[item.resource_id] = item
        elif kind == "PractitionerRole":
            roles.append(item)
        elif kind == "Practitioner":
            practitioners[item.resource_id] = item
    if establishment is None:
        return None
    ej = item_of(legal_entity, shape) if legal_entity is not None else None
    return EstablishmentView(ej, establishment, internal, offers, locations, roles, practitioners, parents)
