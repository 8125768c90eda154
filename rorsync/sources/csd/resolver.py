"""Turns the drafts of one CSD document (or one multi-part extraction) into records.

``@entityID`` values are document-local: they only link objects inside one answer, and the records
must carry business keys instead (see ``identifiers.py``). The resolver keeps, per entityID, the
little that dependents need (``Known``: key, EG, region, timestamp) and never the elements themselves.

Streaming order matters: directories come as organization, service, facility, provider, device, so a
facility cites services read before it, but the equipment (devices) its location cites comes after
every facility. Everything is emitted as soon as what it references is known; what is not known yet
waits in a small queue keyed by the missing entityID and is released when it is registered:

* a location citing devices waits for them (memory: its draft, a few KB per location with
  equipment, for one part at most when parts are read one by one);
* an EG whose EJ, or a facility whose parent, comes later in its directory waits the same way.

:meth:`CsdResolver.finish` ends the wait: a location is emitted with the equipment that was found
(and a warning), anything else still waiting becomes a ``RecordError`` naming the missing entityID.

Composite records are versioned on all their parts: an offer's payload is its facility plus the
services it cites, a location's is the facility's elements that describe it (``extension/location``
and the capacity elements) plus the devices it cites, and ``last_updated`` is the latest
``record/@updated`` among them (the element's own, else its parent's).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from rorsync.model import (
    CodeRow,
    Entity,
    OfferRow,
    OrganizationKind,
    OrganizationRow,
    PractitionerRoleRow,
    Record,
    RecordError,
)
from rorsync.sources.csd.elements import Origin
from rorsync.sources.csd.facilities import DeviceEntry, FacilityDraft, LocationDraft, ServiceEntry
from rorsync.sources.csd.identifiers import region_of_oi_identifier
from rorsync.sources.csd.organizations import OrganizationDraft
from rorsync.sources.csd.providers import ProviderDraft
from rorsync.sources.csd.times import paris_midnight

Output = Record | RecordError

DEFINITIVE_CLOSURE = "DEF"  # JDV_J185: v2.4 only knows a final closing date


@dataclass(frozen=True, slots=True)
class ParseWarning:
    """Something accepted leniently that a human may want to know about (no record was lost)."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Known:
    """What dependents need of a registered organization or facility."""

    resource_id: str
    eg_id: str | None  # the EG above it: itself for an EG, None for an EJ
    region: str | None
    updated: dt.datetime
    is_offer: bool = False
    organization_ref: str | None = None  # offers: the OI or EG that provides them
    location_id: str | None = None  # offers: their location record


@dataclass(frozen=True, slots=True)
class _Placement:
    """Where a facility sits once its parent is known."""

    resource_id: str
    parent: Known
    eg_id: str
    region: str | None
    updated: dt.datetime


@dataclass(frozen=True, slots=True)
class _LocationJob:
    """An offer's location record to build, possibly once the devices it cites are read."""

    draft: LocationDraft
    location_id: str
    region: str | None
    fallback: dt.datetime  # the facility's last_updated
    where: str


class _Waiting(NamedTuple):
    resume: Callable[[], list[Output]]  # called once the awaited entityID is registered
    abandon: Callable[[str], list[Output]]  # called by finish() with the entityID that never came


def _latest(first: dt.datetime, *others: dt.datetime | None) -> dt.datetime:
    return max([first, *(other for other in others if other is not None)])


class CsdResolver:
    """Resolves entityID references and assembles records; one instance per document or extraction.

    ``organizations`` seeds the organizations (EJ, EG) known beforehand, by entityID: those of the
    extraction parts another worker reads (see ``extraction.index_organizations``).
    """

    def __init__(self, organizations: Mapping[str, Known] | None = None) -> None:
        self.warnings: list[ParseWarning] = []
        self.facility_number: int | None = None
        self._organizations: dict[str, Known] = dict(organizations or {})
        self._facilities: dict[str, Known] = {}
        self._services: dict[str, ServiceEntry] = {}
        self._devices: dict[str, DeviceEntry] = {}
        self._waiting: dict[str, list[_Waiting]] = {}

    # --- bookkeeping -----------------------------------------------------------------------------

    def _warn(self, where: str, reason: str) -> None:
        self.warnings.append(ParseWarning(where, reason))

    def _wait(self, entity_id: str, waiting: _Waiting) -> list[Output]:
        self._waiting.setdefault(entity_id, []).append(waiting)
        return []

    def _release(self, entity_id: str) -> list[Output]:
        released: list[Output] = []
        for waiting in self._waiting.pop(entity_id, []):
            released.extend(waiting.resume())
        return released

    def _register(self, entity_id: str, known: Known, table: dict[str, Known]) -> list[Output]:
        table[entity_id] = known
        return self._release(entity_id)

    @staticmethod
    def _unresolved(where: str, missing: str, payload: bytes) -> list[Output]:
        return [RecordError(where, f"references entityID {missing!r}, absent from the document or unreadable", payload)]

    def _updated(self, origin: Origin, parent: Known | None, where: str) -> dt.datetime | None:
        if origin.unparsed_updated is not None:
            self._warn(where, f"record/@updated {origin.unparsed_updated!r} is not a dateTime, the parent's is used")
        if origin.updated is not None:
            return origin.updated
        return parent.updated if parent is not None else None

    @property
    def organizations(self) -> Mapping[str, Known]:
        """The organizations registered so far, by entityID."""
        return self._organizations

    def end_part(self) -> None:
        """Forget what one extraction part defined but the organizations (EJ, EG).

        A part is one document and its entityIDs link objects inside it; keeping every part's services
        and devices (with their payloads) would grow with the extraction, about 1 GB at the national
        scale. Organizations stay (about a hundred thousand small entries), so that a later part may
        still hang internal organisations on an establishment defined earlier; a reference to anything
        else of an earlier part ends as an unresolved-reference error, never silently.
        """
        self._facilities.clear()
        self._services.clear()
        self._devices.clear()

    def finish(self) -> list[Output]:
        """Settle everything still waiting (end of the document, or of the last extraction part)."""
        settled: list[Output] = []
        while self._waiting:
            entity_id, items = self._waiting.popitem()
            for waiting in items:
                settled.extend(waiting.abandon(entity_id))
        return settled

    # --- organizations (EJ, EG) -------------------------------------------------------------------

    def add_organization(self, draft: OrganizationDraft) -> list[Output]:
        where = f"organization entityID={draft.origin.entity_id!r}"
        if draft.id_nat_struct is None:
            return [RecordError(where, "no usable otherID (idNatStruct, FINESS, SIREN or SIRET)", draft.origin.payload)]
        where = f"{where} ({draft.id_nat_struct})"
        parent = None
        if draft.parent_entity is not None:
            parent = self._organizations.get(draft.parent_entity)
            if parent is None:
                return self._wait(
                    draft.parent_entity,
                    _Waiting(
                        lambda: self.add_organization(draft),
                        lambda missing: self._unresolved(where, missing, draft.origin.payload),
                    ),
                )
        updated = self._updated(draft.origin, parent, where)
        if updated is None:
            return [RecordError(where, "no usable record/@updated", draft.origin.payload)]
        row = draft.row
        row["parent_ref"] = parent.resource_id if parent is not None else None
        region = draft.region or (parent.region if parent is not None else None)
        record = Record(
            Entity.ORGANIZATION,
            draft.id_nat_struct,
            updated,
            region,
            draft.origin.payload,
            row,
            codes=draft.codes,
            contacts=draft.contacts.rows,
        )
        eg_id = draft.id_nat_struct if row["kind"] == OrganizationKind.EG else None
        known = Known(draft.id_nat_struct, eg_id, region, updated)
        return [record, *self._register(draft.origin.entity_id, known, self._organizations)]

    # --- services and devices (referenced, not records themselves) --------------------------------

    def add_service(self, entity_id: str, entry: ServiceEntry) -> None:
        self._services[entity_id] = entry

    def add_device(self, entity_id: str, entry: DeviceEntry) -> list[Output]:
        self._devices[entity_id] = entry
        return self._release(entity_id)

    # --- facilities (OI and offers) ---------------------------------------------------------------

    def add_facility(self, draft: FacilityDraft) -> list[Output]:
        where = f"facility entityID={draft.origin.entity_id!r}" + (f" ({draft.oi_id})" if draft.oi_id else "")
        # v2.4 links the hierarchy with parentFacility; the v0.1.5 mock only with organizations/organization.
        parent_entity = draft.parent_entity or next(iter(draft.organization_entities), None)
        if parent_entity is None:
            return [
                RecordError(
                    where, "no parentFacility nor organizations/organization to attach it to", draft.origin.payload
                )
            ]
        parent = self._facilities.get(parent_entity) or self._organizations.get(parent_entity)
        if parent is None:
            return self._wait(
                parent_entity,
                _Waiting(
                    lambda: self.add_facility(draft),
                    lambda missing: self._unresolved(where, missing, draft.origin.payload),
                ),
            )
        eg_id = parent.eg_id or parent.resource_id
        resource_id = draft.oi_id
        if resource_id is None:
            resource_id = f"{eg_id}#{draft.origin.entity_id}"
            self._warn(where, f"no OI identifier (otherID), keyed {resource_id!r}: not stable across exports")
        region = region_of_oi_identifier(draft.oi_id) or parent.region
        updated = self._updated(draft.origin, parent, where)
        if updated is None:
            return [RecordError(where, "no usable record/@updated", draft.origin.payload)]
        placement = _Placement(resource_id, parent, eg_id, region, updated)
        if draft.is_offer:
            records, known = self._offer(draft, placement, where)
        else:
            records, known = self._internal_organization(draft, placement)
        return [*records, *self._register(draft.origin.entity_id, known, self._facilities)]

    def _internal_organization(self, draft: FacilityDraft, placement: _Placement) -> tuple[list[Output], Known]:
        location = draft.location.row
        line, postal_code, city = draft.address
        if line is None and city is None:
            line, postal_code, city = location["address_line"], location["postal_code"], location["city"]
        row = OrganizationRow(
            kind=OrganizationKind.OI,
            parent_ref=placement.parent.resource_id,
            name=draft.name,
            alias=draft.alias,
            finess=None,
            siren=None,
            siret=None,
            id_nat_struct=None,
            oi_id=draft.oi_id,
            category_code=None,
            legal_status_code=None,
            oi_type_code=draft.type_code,
            address_line=line,
            postal_code=postal_code,
            city=city,
            commune_cog=location["commune_cog"],
            opening_date=draft.opening_date,
            closing_date=draft.final_closing_date,
            closing_type_code=DEFINITIVE_CLOSURE if draft.final_closing_date else None,
            reopening_date=None,
            drop_zone=None,
            orsan_level_code=None,
            comment=None,
        )
        record = Record(
            Entity.ORGANIZATION,
            placement.resource_id,
            placement.updated,
            placement.region,
            draft.origin.payload,
            row,
            contacts=draft.contacts.rows,
        )
        return [record], Known(placement.resource_id, placement.eg_id, placement.region, placement.updated)

    def _offer(self, draft: FacilityDraft, placement: _Placement, where: str) -> tuple[list[Output], Known]:
        codes: list[CodeRow] = list(draft.codes)
        payload = draft.origin.payload
        latest = placement.updated
        for service_entity in draft.service_entities:
            service = self._services.get(service_entity)
            if service is None:
                self._warn(where, f"cites service entityID {service_entity!r}, absent from serviceDirectory")
                continue
            codes.extend(service.codes)
            payload += service.origin.payload
            latest = _latest(latest, service.origin.updated)
        location_id = f"{placement.resource_id}/location" if draft.location.has_content else None
        closed = draft.final_closing_date
        row = OfferRow(
            offer_identifier=draft.oi_id,
            name=draft.name,
            organization_ref=placement.parent.resource_id,
            activity_field_code=draft.activity_field,
            category_code=draft.category,
            care_mode_code=draft.care_mode,
            sensitive=draft.sensitive,
            age_min=draft.age_min,
            age_max=draft.age_max,
            closed_from=paris_midnight(closed) if closed else None,
            reopening_at=None,
            closing_type_code=DEFINITIVE_CLOSURE if closed else None,
            comment=None,
        )
        offer = Record(
            Entity.OFFER,
            placement.resource_id,
            latest,
            placement.region,
            payload,
            row,
            codes=list({(c["kind"], c["table_id"], c["code"]): c for c in codes}.values()),
            contacts=draft.contacts.rows,
            location_refs=[location_id] if location_id else [],
        )
        records: list[Output] = [offer]
        if location_id is not None:
            draft.location.row["managing_organization_ref"] = placement.eg_id
            job = _LocationJob(draft.location, location_id, placement.region, placement.updated, where)
            records.extend(self._location(job))
        known = Known(
            placement.resource_id,
            placement.eg_id,
            placement.region,
            placement.updated,
            is_offer=True,
            organization_ref=placement.parent.resource_id,
            location_id=location_id,
        )
        return records, known

    def _location(self, job: _LocationJob) -> list[Output]:
        missing = [entity for entity in job.draft.device_entities if entity not in self._devices]
        if not missing:
            return [self._location_record(job)]

        def abandon(_: str) -> list[Output]:
            absent = [entity for entity in job.draft.device_entities if entity not in self._devices]
            self._warn(job.where, f"cites equipment entityID(s) {absent}, absent from deviceDirectory")
            return [self._location_record(job)]

        return self._wait(missing[0], _Waiting(lambda: self._location(job), abandon))

    def _location_record(self, job: _LocationJob) -> Record:
        draft = job.draft
        devices = [self._devices[entity] for entity in draft.device_entities if entity in self._devices]
        updated = _latest(draft.updated or job.fallback, *(device.origin.updated for device in devices))
        return Record(
            Entity.LOCATION,
            job.location_id,
            updated,
            job.region,
            b"".join([*draft.parts, *(device.origin.payload for device in devices)]),
            draft.row,
            capacities=draft.capacities,
            equipment=[device.row for device in devices],
            residential=draft.residential,
        )

    # --- providers (practitioners and their roles) ------------------------------------------------

    def add_provider(self, draft: ProviderDraft) -> list[Output]:
        where = f"provider entityID={draft.origin.entity_id!r}"
        anchors = [self._facilities.get(entity) for entity in draft.facility_entities]
        anchors += [self._organizations.get(entity) for entity in draft.organization_entities]
        anchor = next((known for known in anchors if known is not None), None)
        resource_id = draft.idnat_ps
        if resource_id is None:
            if anchor is None:
                reason = "no otherID (RPPS / idNat_PS) and no known facility or organization to key it by"
                return [RecordError(where, reason, draft.origin.payload)]
            resource_id = f"{anchor.eg_id or anchor.resource_id}#{draft.origin.entity_id}"
            self._warn(where, f"no otherID (RPPS / idNat_PS), keyed {resource_id!r}: not stable across exports")
        updated = self._updated(draft.origin, anchor, where)
        if updated is None:
            return [RecordError(where, "no usable record/@updated", draft.origin.payload)]
        practitioner = Record(
            Entity.PRACTITIONER,
            resource_id,
            updated,
            anchor.region if anchor is not None else None,
            draft.practitioner_payload,
            draft.row,
            contacts=draft.practitioner_contacts.rows,
        )
        records: list[Output] = [practitioner]
        for facility_entity in dict.fromkeys(draft.facility_entities):
            records.extend(self._role(draft, resource_id, facility_entity, updated, where))
        return records

    def _role(
        self, draft: ProviderDraft, practitioner_id: str, facility_entity: str, updated: dt.datetime, where: str
    ) -> list[Output]:
        facility = self._facilities.get(facility_entity)
        if facility is None:
            return self._wait(
                facility_entity,
                _Waiting(
                    lambda: self._role(draft, practitioner_id, facility_entity, updated, where),
                    lambda missing: self._unresolved(f"{where} role", missing, draft.origin.payload),
                ),
            )
        row = PractitionerRoleRow(
            situation_identifier=None,
            practitioner_ref=practitioner_id,
            offer_ref=facility.resource_id if facility.is_offer else None,
            organization_ref=facility.organization_ref if facility.is_offer else facility.resource_id,
            location_ref=facility.location_id,
            profession_code=draft.profession_code,
            exercise_mode_code=draft.exercise_mode_code,
        )
        role = Record(
            Entity.PRACTITIONER_ROLE,
            f"{practitioner_id}@{facility.resource_id}",
            updated,
            facility.region,
            draft.origin.payload,
            row,
            codes=list(draft.role_codes),
            contacts=list(draft.role_contacts.rows),
        )
        return [role]
