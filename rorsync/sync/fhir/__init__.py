"""Mirroring the ROR FHIR API (MEV3.0): complete loads, deltas, capacity polling, resync."""

from rorsync.config import Settings
from rorsync.store.engine import Database
from rorsync.sync.fhir.engine import FhirEngine


def build_engine(settings: Settings, db: Database) -> FhirEngine:
    """The daemon's factory for the FHIR source (see ``rorsync.service.engines``)."""
    return FhirEngine(settings, db)


__all__ = ["FhirEngine", "build_engine"]
