"""One establishment's view → the five CSD directories, for a Lecture answer or an extraction part.

What comes back (csd-mev24 §4, §10):

* EJ and EG always (context), then pôles / services / UFs (parents first), then one UE per offer;
* with ``typeActivity`` / ``supportedPatient`` filters, only the UEs of those champs / publics and
  the OIs above them (RG_ALIM_020);
* for a Lecture OI, the OI, the OIs below it and their UEs, plus the OIs above it as context (so that
  every ``parentFacility`` resolves inside the answer);
* providers of the UEs present, and the devices their locations cite.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

from rorsync.simulator.csd.nodes import Nodes
from rorsync.simulator.csd.offers import offer_entity, unit
from rorsync.simulator.csd.organizations import entity_id, internal_organization, legal_or_geographic
from rorsync.simulator.csd.providers import provider
from rorsync.simulator.csd.view import EstablishmentView, Item

DIRECTORY_NAMES = (
    "organizationDirectory",
    "serviceDirectory",
    "facilityDirectory",
    "providerDirectory",
    "deviceDirectory",
)


@dataclass(frozen=True, slots=True)
class Selection:
    """What a request asks for; the default is the whole establishment."""

    activity_fields: frozenset[str] = frozenset()
    supported_patients: frozenset[str] = frozenset()
    restricted: bool = False  # restrictedOrganisation=1
    root: str | None = None  # Lecture OI: id of the internal organization (or offer) asked for

    @property
    def filtered(self) -> bool:
        return bool(self.activity_fields or self.supported_patients)

    def wants(self, offer: Item) -> bool:
        row = offer.offer
        if self.activity_fields and row["activity_field_code"] not in self.activity_fields:
            return False
        return not self.supported_patients or bool(self.supported_patients & set(offer.codes("patient_type")))


@dataclass(slots=True)
class Directories:
    """The content of ``queryResult`` / ``csd:CSD``: top-level elements per directory, in XSD order."""

    organizations: list[etree._Element] = field(default_factory=list)
    services: list[etree._Element] = field(default_factory=list)
    facilities: list[etree._Element] = field(default_factory=list)
    providers: list[etree._Element] = field(default_factory=list)
    devices: list[etree._Element] = field(default_factory=list)
    unit_count: int = 0  # facilityNumber: UEs in the answer

    def lists(self) -> tuple[list[etree._Element], ...]:
        return self.organizations, self.services, self.facilities, self.providers, self.devices


def _chosen(view: EstablishmentView, selection: Selection) -> tuple[list[Item], set[str]]:
    """The offers and the internal organizations (ids) to render."""
    if selection.root is not None:
        below = {oi for oi in view.internal if selection.root in set(view.ancestors(oi))}
        offers = [
            offer
            for offer in view.offers.values()
            if offer.resource_id == selection.root
            or selection.root in set(view.ancestors(offer.offer["organization_ref"] or ""))
        ]
        asked = view.offers.get(selection.root)
        context = set(view.ancestors(asked.offer["organization_ref"] or "" if asked else selection.root))
        return offers, {oi for oi in below | context if oi in view.internal}
    offers = [offer for offer in view.offers.values() if selection.wants(offer)]
    if not selection.filtered:
        return offers, set(view.internal)
    above = {oi for offer in offers for oi in view.ancestors(offer.offer["organization_ref"] or "")}
    return offers, {oi for oi in above if oi in view.internal}


def _depth(view: EstablishmentView, organization_id: str) -> int:
    return sum(1 for _ in view.ancestors(organization_id))


def render(nodes: Nodes, view: EstablishmentView, selection: Selection = Selection()) -> Directories:
    found = Directories()
    establishment = entity_id(view.establishment.resource_id)
    if view.legal_entity is not None:
        found.organizations.append(legal_or_geographic(nodes, view.legal_entity, None))
    parent = entity_id(view.legal_entity.resource_id) if view.legal_entity is not None else None
    found.organizations.append(legal_or_geographic(nodes, view.establishment, parent))
    offers, internal = _chosen(view, selection)
    below: dict[str, list[Item]] = {}
    for offer in offers:
        for oi in view.ancestors(offer.offer["organization_ref"] or ""):
            below.setdefault(oi, []).append(offer)
    for oi in sorted(internal, key=lambda oi: (_depth(view, oi), oi)):
        item = view.internal[oi]
        found.facilities.append(
            internal_organization(
                nodes,
                item,
                establishment_entity=establishment,
                parent_entity=_parent_entity(view, item.organization["parent_ref"]),
                activity_fields=sorted({o.offer["activity_field_code"] or "" for o in below.get(oi, [])} - {""}),
                ages=_age_span(below.get(oi, [])),
            )
        )
    devices: dict[str, etree._Element] = {}
    for offer in offers:
        location = next((view.locations[ref] for ref in offer.record.location_refs if ref in view.locations), None)
        parts = unit(
            nodes,
            offer,
            establishment_entity=establishment,
            parent_entity=_parent_entity(view, offer.offer["organization_ref"]),
            location=location,
            restricted=selection.restricted,
        )
        found.facilities.append(parts.facility)
        found.services.extend(parts.services)
        devices.update(parts.devices)
    found.devices.extend(devices.values())
    found.unit_count = len(offers)
    rendered = {offer.resource_id for offer in offers}
    for role in view.roles:
        offer_id = role.role["offer_ref"]
        practitioner = view.practitioners.get(role.role["practitioner_ref"] or "")
        if offer_id in rendered and practitioner is not None:
            found.providers.append(provider(nodes, role, practitioner, offer_entity(offer_id)))
    return found


def _parent_entity(view: EstablishmentView, organization_id: str | None) -> str | None:
    """``parentFacility`` of a facility: the nearest rendered OI above it, none under the EG directly."""
    parent = view.rendered_parent(organization_id)
    return None if parent == view.establishment.resource_id else entity_id(parent)


def _age_span(offers: list[Item]) -> tuple[float, float] | None:
    lows = [o.offer["age_min"] for o in offers if o.offer["age_min"] is not None]
    highs = [o.offer["age_max"] for o in offers if o.offer["age_max"] is not None]
    if not lows or not highs:
        return None
    return min(lows), max(highs)


def iter_elements(directories: Directories) -> Iterator[tuple[str, etree._Element]]:
    """(directory name, element) in document order."""
    for name, elements in zip(DIRECTORY_NAMES, directories.lists(), strict=True):
        for element in elements:
            yield name, element
