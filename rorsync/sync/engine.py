"""The contract between a source's sync engine and whoever drives it (the daemon, the CLI).

An engine knows *what* to fetch for its source (FHIR, CSD); the service only knows *when*. Each
engine describes its scheduled work as :class:`Job` values built from the configuration, performs
its initial load when the mirror has nothing from it yet, and answers manual resync requests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from rorsync.model import Source
from rorsync.sync.progress import Progress


@dataclass(frozen=True, slots=True)
class Job:
    """One kind of recurring work of a source, e.g. FHIR deltas every 5 minutes."""

    name: str  # unique and stable, e.g. "fhir:delta"; used in logs, metrics and health
    kind: str  # the run-journal kind: delta, capacity, reconcile...
    run: Callable[[Progress], Awaitable[None]]
    timeout: dt.timedelta
    every: dt.timedelta | None = None  # interval trigger
    cron: str | None = None  # crontab trigger (local time), for weekly reconciles

    def __post_init__(self) -> None:
        if (self.every is None) == (self.cron is None):
            raise ValueError(f"job {self.name}: give exactly one of every= or cron=")


@dataclass(frozen=True, slots=True)
class ResyncRequest:
    """A manual resync: everything (``full``), or one organization subtree, or one resource.

    ``organization`` is a business identifier (FINESS, idNatStruct or OI identifier);
    ``resource`` is a source reference (``Location/123`` for FHIR, an EG idNatStruct or OI id for CSD).
    Without any of them the request is an ordinary immediate delta cycle.
    """

    full: bool = False
    organization: str | None = None
    resource: str | None = None

    def describe(self) -> str:
        if self.organization:
            return f"organization {self.organization}"
        if self.resource:
            return f"resource {self.resource}"
        return "full resync" if self.full else "delta"


class SourceEngine(Protocol):
    source: Source

    async def prepare(self) -> None:
        """Open what the engine needs for its lifetime (HTTP session, WSDL...); fails fast on bad setup."""

    def jobs(self) -> list[Job]:
        """The recurring work, from the configured schedule."""

    async def initial_load_needed(self) -> bool:
        """True when the mirror holds nothing complete from this source yet."""

    async def initial_load(self, progress: Progress) -> None: ...

    async def resync(self, request: ResyncRequest, progress: Progress) -> None: ...

    async def aclose(self) -> None: ...
