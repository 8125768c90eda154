"""Mirroring a ROR over CSD MEV2.4: TR-Extraction loads, TR-Notif + TR-Lecture cycles, absence sweeps, resync."""

from rorsync.config import Settings
from rorsync.store.engine import Database
from rorsync.sync.csd.engine import CsdEngine


def build_engine(settings: Settings, db: Database) -> CsdEngine:
    """The daemon's factory for the CSD source (see ``rorsync.service.engines``)."""
    return CsdEngine(settings, db)


__all__ = ["CsdEngine", "build_engine"]
