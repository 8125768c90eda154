"""Mirroring the ROR FHIR API (MEV3.0): complete loads, deltas, capacity polling, resync."""

from rorsync.sync.fhir.engine import FhirEngine

__all__ = ["FhirEngine"]
