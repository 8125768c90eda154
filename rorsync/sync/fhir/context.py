"""What every FHIR sync step needs: the client, the database, the settings, the clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rorsync.config import Settings
from rorsync.model import Entity, Source
from rorsync.sources.fhir.client import FhirClient
from rorsync.sources.fhir.parse import SearchPage
from rorsync.store.engine import Database
from rorsync.sync.writer import BatchWriter, Clock, SourceContext, store_items, utcnow

RESOURCE_ENTITIES: dict[str, Entity] = {
    "Organization": Entity.ORGANIZATION,
    "HealthcareService": Entity.OFFER,
    "Location": Entity.LOCATION,
    "PractitionerRole": Entity.PRACTITIONER_ROLE,
    "Practitioner": Entity.PRACTITIONER,
}
RESOURCE_TYPES = tuple(RESOURCE_ENTITIES)
CAPACITY_TYPE = "Location"  # polled on its own, more frequent schedule
DELTA_TYPES = tuple(t for t in RESOURCE_TYPES if t != CAPACITY_TYPE)


def delta_stream(resource_type: str) -> str:
    return f"delta:{resource_type}"


@dataclass
class FhirContext(SourceContext):
    source: ClassVar[Source] = Source.FHIR

    settings: Settings
    db: Database
    client: FhirClient
    clock: Clock = utcnow

    @property
    def regions(self) -> list[str]:
        return list(self.settings.fhir.regions)


async def store_page(writer: BatchWriter, page: SearchPage) -> int:
    return await store_items(writer, [*page.records, *page.errors])
