"""The contract between a source's sync engine and whoever drives it (the daemon, the CLI).

An engine knows *what* to fetch for its source (FHIR, CSD); the service only knows *when*. Each
engine describes its scheduled work as :class:`Job` values built from the configuration, performs
its initial load when the mirror has nothing from it yet, and answers manual resync requests.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from rorsync.config import Settings
from rorsync.metrics import MetricsObserver
from rorsync.model import Source
from rorsync.store.engine import Database
from rorsync.sync.progress import NULL_PROGRESS, Progress
from rorsync.sync.runs import RunHandle, journaled_run
from rorsync.sync.writer import Clock, utcnow
from rorsync.transport import TransportObserver


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


class SourceClient(Protocol):
    async def close(self) -> None: ...


ClientT = TypeVar("ClientT", bound=SourceClient)
ContextT = TypeVar("ContextT")


class EngineBase(ABC, Generic[ClientT, ContextT]):
    """The life cycle every source engine shares, so that each only says what is its own.

    The client (one HTTP session for the source) is built by :meth:`prepare`, not by the constructor,
    so that building engines does no I/O; tests pass their own ``client`` and ``clock``. Complete
    loads and whatever else the engine journals run under :meth:`_journaled`.
    """

    source: Source

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        observer: TransportObserver | None = None,
        clock: Clock = utcnow,
        client: ClientT | None = None,
    ) -> None:
        self.settings, self.db = settings, db
        self._observer = observer
        self._clock = clock
        self._client = client
        self._ctx: ContextT | None = None

    @property
    def ctx(self) -> ContextT:
        if self._ctx is None:
            raise RuntimeError(f"{type(self).__name__}.prepare() must be awaited first")
        return self._ctx

    @property
    @abstractmethod
    def scope(self) -> str:
        """What the engine mirrors, for the run journal (regions, a profile...)."""

    @abstractmethod
    def _new_client(self, observer: TransportObserver) -> ClientT: ...

    @abstractmethod
    def _new_context(self, client: ClientT) -> ContextT: ...

    @abstractmethod
    async def _complete_load(self, run: RunHandle, progress: Progress) -> None:
        """Everything in scope, then the sweep of what is gone (initial load and reconcile)."""

    async def prepare(self) -> None:
        self._client = self._client or self._new_client(self._observer or MetricsObserver())
        self._ctx = self._new_context(self._client)

    async def aclose(self) -> None:
        if self._ctx is not None and self._client is not None:
            await self._client.close()

    def _reconcile_job(self) -> Job:
        """The scheduled complete load (``schedule.reconcile``), the same for every source."""
        schedule = self.settings.schedule
        name = f"{self.source.value}:reconcile"
        return Job(name, "reconcile", self.reconcile, schedule.full_load_timeout, cron=schedule.reconcile)

    async def initial_load(self, progress: Progress = NULL_PROGRESS) -> None:
        async with self._journaled("full") as run:
            await self._complete_load(run, progress)

    async def reconcile(self, progress: Progress = NULL_PROGRESS) -> None:
        async with self._journaled("reconcile") as run:
            await self._complete_load(run, progress)

    def _journaled(self, kind: str, scope: str | None = None) -> AbstractAsyncContextManager[RunHandle]:
        return journaled_run(self.db, self.source, kind, scope=scope or self.scope, clock=self._clock)
