"""The CSD read side of the simulator, independent of HTTP: TR-Notif and both TR-Lecture transactions.

Synchronous, like the FHIR service: the aiohttp handlers run it in an executor. The caller's CSD
access profile (0–3) selects what the FHIR :class:`Redactor` lets through before rendering.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from functools import partial
from typing import Final

from rorsync.simulator.csd import documents
from rorsync.simulator.csd.documents import NotifEntry
from rorsync.simulator.csd.establishment import Selection, render
from rorsync.simulator.csd.nodes import ESTABLISHMENT_AUTHORITY, Nodes, Quirks
from rorsync.simulator.csd.requests import (
    EstablishmentRequest,
    NotifRequest,
    NotProvided,
    OrganisationRequest,
    UnreadableRequest,
    parse_request,
)
from rorsync.simulator.csd.view import EstablishmentView, Shaper, item_of, load_view
from rorsync.simulator.fhir.filtering import Redactor
from rorsync.simulator.world.elements import reference_id
from rorsync.simulator.world.store import WorldResource, WorldStore
from rorsync.sources.csd.xmlsafe import EXTRACTION_PART_MAX_BYTES
from rorsync.sources.fhir import profile as fhir_profile

CSD_PROFILES: Final = (0, 1, 2, 3)
DEFAULT_PATH: Final = "/ROR/0.1/CSD_ROR_Binding"


@dataclass(frozen=True, slots=True)
class CsdSettings:
    """Behaviour knobs of the CSD side (the real values are the defaults)."""

    path: str = DEFAULT_PATH
    quirks: Quirks = field(default_factory=Quirks)
    extraction_part_bytes: int = EXTRACTION_PART_MAX_BYTES
    default_profile: int = 1  # plain HTTP without ?profil=
    extraction_wait: float = 60.0  # seconds a download waits for a build before a 503 + Retry-After


@dataclass(frozen=True, slots=True)
class SoapAnswer:
    status: int
    body: bytes


class CsdService:
    def __init__(self, world: WorldStore, redactor: Redactor, settings: CsdSettings) -> None:
        self.world = world
        self.redactor = redactor
        self.settings = settings
        self.nodes = Nodes(settings.quirks)

    def answer(self, data: bytes, access_profile: int) -> SoapAnswer:
        """One SOAP request → its answer (the error forms included), never an exception for bad input."""
        try:
            request = parse_request(data)
            if isinstance(request, NotifRequest):
                return SoapAnswer(200, self.notif(request, access_profile))
            if isinstance(request, EstablishmentRequest):
                return SoapAnswer(200, self.lecture_establishment(request, access_profile))
            return SoapAnswer(200, self.lecture_organisation(request, access_profile))
        except UnreadableRequest as error:
            return SoapAnswer(400, documents.sender_fault(str(error)))
        except NotProvided as error:
            body = documents.fault() if error.form == "notif" else documents.lecture_error()
            return SoapAnswer(500, body)

    # --- views ------------------------------------------------------------------------------------
    def view(
        self, establishment: WorldResource, access_profile: int, conn: sqlite3.Connection | None = None
    ) -> EstablishmentView | None:
        """The EG and its subtree as ``access_profile`` sees them (read through ``conn`` when given)."""
        members = self.world.iter_resources(establishment=establishment.resource_id, conn=conn)
        parent_id = reference_id(establishment.json().get("partOf"), "Organization")
        legal_entity = self.world.get("Organization", parent_id, conn) if parent_id else None
        return load_view(establishment.resource_id, members, legal_entity, self.shaper(access_profile))

    def shaper(self, access_profile: int) -> Shaper:
        return partial(self.redactor.redact, access_profile=access_profile)

    def _establishment(self, id_nat_struct: str) -> WorldResource:
        found = self.world.find_by_identifier("Organization", id_nat_struct, fhir_profile.SYSTEM_ID_NAT_STRUCT)
        if found is None or found.establishment != found.resource_id:
            raise NotProvided("lecture", f"no establishment (EG) with idNatStruct {id_nat_struct!r}")
        return found

    # --- transactions -----------------------------------------------------------------------------
    def notif(self, request: NotifRequest, access_profile: int) -> bytes:
        """The EGs whose subtree changed since ``dateRef``, with the champs of the offers the profile sees."""
        selection = Selection(request.activity_fields, request.supported_patients)
        entries = []
        for establishment_id in self.world.establishments_changed_since(request.since):
            entry = self._notif_entry(establishment_id, access_profile, selection)
            if entry is not None:
                entries.append(entry)
        entries.sort(key=lambda entry: entry.id_nat_struct)
        return documents.notif_response(self.nodes, entries, ESTABLISHMENT_AUTHORITY)

    def _notif_entry(self, establishment_id: str, access_profile: int, selection: Selection) -> NotifEntry | None:
        establishment = self.world.get("Organization", establishment_id)
        if establishment is None:  # the whole EG was deleted: CSD never says so
            return None
        shape = self.shaper(access_profile)
        eg = item_of(establishment, shape)
        if eg is None or not eg.organization["id_nat_struct"]:
            return None
        offers = [
            item
            for resource in self.world.iter_resources("HealthcareService", establishment=establishment_id)
            if (item := item_of(resource, shape)) is not None
        ]
        if selection.filtered and not any(selection.wants(offer) for offer in offers):
            return None
        fields = sorted({offer.offer["activity_field_code"] or "" for offer in offers} - {""})
        return NotifEntry(eg.organization["id_nat_struct"], fields)

    def lecture_establishment(self, request: EstablishmentRequest, access_profile: int) -> bytes:
        establishment = self._establishment(request.id_nat_struct)
        if request.since is not None and establishment.resource_id not in self.world.establishments_changed_since(
            request.since
        ):
            return documents.lecture_response(None)
        view = self.view(establishment, access_profile)
        if view is None:
            raise NotProvided("lecture", f"establishment {request.id_nat_struct!r} disappeared while read")
        return documents.lecture_response(render(self.nodes, view, request.selection))

    def lecture_organisation(self, request: OrganisationRequest, access_profile: int) -> bytes:
        found = self.world.find_by_identifier("Organization", request.identifier, fhir_profile.SYSTEM_OI)
        found = found or self.world.find_by_identifier("HealthcareService", request.identifier, "")
        establishment = self.world.get("Organization", found.establishment) if found and found.establishment else None
        view = self.view(establishment, access_profile) if found and establishment else None
        if found is None or view is None:
            raise NotProvided("lecture", f"no internal organisation {request.identifier!r}")
        directories = render(self.nodes, view, Selection(root=found.resource_id))
        return documents.lecture_response(directories, facility_number=False)
