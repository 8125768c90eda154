"""``Simulator``: the whole local ROR on 127.0.0.1, as an async context manager for tests, benchmarks and the demo.

async with Simulator(scale="tiny", seed=7) as sim:
    credentials = sim.credentials(1)
    ...  # talk to sim.fhir_base_url with a token from sim.token_url
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from rorsync.simulator.control import add_control_routes
from rorsync.simulator.csd.app import EXTRACTION_PATH, add_csd_routes
from rorsync.simulator.csd.extraction import ExtractionCache
from rorsync.simulator.csd.service import CsdService, CsdSettings
from rorsync.simulator.faults import Fault, FaultInjector
from rorsync.simulator.fhir.app import create_app
from rorsync.simulator.fhir.auth import TOKEN_PATH, TokenIssuer, client_id, default_clients
from rorsync.simulator.fhir.export import ExportManager
from rorsync.simulator.fhir.service import FhirService, FhirSettings
from rorsync.simulator.tls import CERTIFIED_PROFILES, Pki, ensure_pki, server_context
from rorsync.simulator.world.churn import AppliedChange, ChangeFeed
from rorsync.simulator.world.elements import Json
from rorsync.simulator.world.files import open_world
from rorsync.simulator.world.instants import now_micros
from rorsync.simulator.world.store import WorldStore


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """What a client of one access profile needs to call the simulator."""

    profile: int
    client_id: str
    client_secret: str
    headers: dict[str, str]  # the four Ror-* headers
    certificate: Path | None = None  # client certificate (PEM), TLS only, profiles ≥ 1
    private_key: Path | None = None
    ca_certificate: Path | None = None  # the CA that signed the server certificate


@dataclass
class SimulatorOptions:
    scale: str = "tiny"
    seed: int = 7
    world_path: Path | None = None  # None: a temporary file, removed on exit
    fresh_world: bool = False  # regenerate even if world_path holds a complete world
    host: str = "127.0.0.1"
    port: int = 0  # 0: an ephemeral port
    settings: FhirSettings = field(default_factory=FhirSettings)
    csd: CsdSettings = field(default_factory=CsdSettings)
    client_secrets: dict[int, str] = field(default_factory=dict)
    churn_per_minute: float = 0.0  # background change feed; 0 = only apply_changes()
    late_commit_lag: float = 0.0  # seconds: changes become visible up to this long after they are made
    churn_seed: int = 0
    clock: Callable[[], int] = now_micros  # µs since the epoch; tests may drive time by hand
    faults: list[Fault] = field(default_factory=list)  # active from the start (the --fault option)
    tls: bool = False  # HTTPS with client certificates (profiles 1-5 authenticate with them)
    tls_dir: Path | None = None  # where the throw-away PKI lives; None: beside the world (temporary)


class Simulator:
    """Starts the world, the FHIR app and its listener; stops them on exit."""

    def __init__(self, **options: Any) -> None:
        self.options = SimulatorOptions(**options)
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ror-sim")
        self._runner: web.AppRunner | None = None
        self._world: WorldStore | None = None
        self._service: FhirService | None = None
        self._exports: ExportManager | None = None
        self._csd: CsdService | None = None
        self._extractions: ExtractionCache | None = None
        self._churn: asyncio.Task[None] | None = None
        self.changes: ChangeFeed | None = None
        self.faults = FaultInjector()
        self.pki: Pki | None = None
        self.issuer: TokenIssuer | None = None
        self.port = 0

    async def __aenter__(self) -> Simulator:
        options = self.options
        path = options.world_path or self._scratch() / f"{options.scale}-{options.seed}.sqlite"
        loop = asyncio.get_running_loop()
        self._world = await loop.run_in_executor(
            self._executor,
            partial(open_world, path, options.scale, options.seed, clock=options.clock, fresh=options.fresh_world),
        )
        self._service = FhirService(self._world, options.settings)
        self.changes = ChangeFeed(self._world, seed=options.churn_seed, late_commit_lag=options.late_commit_lag)
        sock = socket.socket(socket.AF_INET6 if ":" in options.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((options.host, options.port))
        self.port = sock.getsockname()[1]
        self.issuer = TokenIssuer(
            default_clients(options.client_secrets),
            issuer=self.token_url,
            lifetime=options.settings.token_lifetime,
            require_certificates=options.tls,
        )
        self._exports = ExportManager(self._service, Path(tempfile.mkdtemp(prefix="ror-export-")), self._executor)
        self.faults = FaultInjector(on_token_expiry=self.issuer.invalidate_tokens)
        for fault in options.faults:
            self.faults.add(fault)
        app = create_app(
            self._service, self.issuer, self._executor, self._exports, middlewares=[self.faults.middleware]
        )
        add_control_routes(app, self.faults, self.changes, self._executor)
        self._csd = CsdService(self._world, self._service.redactor, options.csd)
        self._extractions = ExtractionCache(self._csd, Path(tempfile.mkdtemp(prefix="ror-extraction-")))
        add_csd_routes(app, self._csd, self._extractions)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        ssl_context = None
        if options.tls:
            tls_dir = options.tls_dir or self._scratch() / "tls"
            self.pki = await loop.run_in_executor(self._executor, ensure_pki, tls_dir)
            ssl_context = server_context(self.pki, self.faults)
        await web.SockSite(self._runner, sock, ssl_context=ssl_context).start()
        if options.churn_per_minute > 0:
            self._churn = asyncio.create_task(self.changes.run(options.churn_per_minute, self._executor))
        return self

    def _scratch(self) -> Path:
        """A private temporary directory, removed on exit."""
        if self._temporary is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="ror-sim-")
        return Path(self._temporary.name)

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._churn is not None:
            self._churn.cancel()
            with suppress(asyncio.CancelledError):
                await self._churn
        if self._runner is not None:
            await self._runner.cleanup()
        if self._exports is not None:
            self._exports.close()
            shutil.rmtree(self._exports.work_dir, ignore_errors=True)
        if self._extractions is not None:
            shutil.rmtree(self._extractions.work_dir, ignore_errors=True)
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._world is not None:
            self._world.close()
        if self._temporary is not None:
            self._temporary.cleanup()

    # --- what tests and users need ------------------------------------------------------------------
    @property
    def origin(self) -> str:
        scheme = "https" if self.options.tls else "http"
        host = f"[{self.options.host}]" if ":" in self.options.host else self.options.host
        return f"{scheme}://{host}:{self.port}"

    @property
    def fhir_base_url(self) -> str:
        return f"{self.origin}{self.options.settings.base_path}"

    @property
    def token_url(self) -> str:
        return f"{self.origin}{TOKEN_PATH}"

    def csd_endpoint_url(self, profile: int = 1) -> str:
        """The SOAP 1.2 endpoint; over plain HTTP the profile travels in the query (a simulator convenience),
        over TLS the client certificate decides and the URL is the bare path."""
        url = f"{self.origin}{self.options.csd.path}"
        return url if self.options.tls else f"{url}?profil={profile}"

    def extraction_url(self, profile: int) -> str:
        return f"{self.origin}{EXTRACTION_PATH.format(profile=profile)}"

    @property
    def csd(self) -> CsdService:
        if self._csd is None:
            raise RuntimeError("the simulator is not running")
        return self._csd

    @property
    def extractions(self) -> ExtractionCache:
        if self._extractions is None:
            raise RuntimeError("the simulator is not running")
        return self._extractions

    @property
    def world(self) -> WorldStore:
        if self._world is None:
            raise RuntimeError("the simulator is not running")
        return self._world

    @property
    def fhir(self) -> FhirService:
        if self._service is None:
            raise RuntimeError("the simulator is not running")
        return self._service

    def credentials(self, profile: int) -> ClientCredentials:
        if self.issuer is None:
            raise RuntimeError("the simulator is not running")
        client = self.issuer.clients[client_id(profile)]
        if self.pki is None:
            return ClientCredentials(profile, client.client_id, client.secret, client.ror_headers())
        certified = profile in CERTIFIED_PROFILES
        return ClientCredentials(
            profile,
            client.client_id,
            client.secret,
            client.ror_headers(),
            certificate=self.pki.client_certificate(profile) if certified else None,
            private_key=self.pki.client_key(profile) if certified else None,
            ca_certificate=self.pki.ca,
        )

    def served(self, profile: int, resource_type: str | None = None) -> Iterator[Json]:
        """Exactly the resources a client of ``profile`` currently receives (redacted FHIR dicts)."""
        return self.fhir.served(profile, resource_type)

    def apply_changes(self, count: int, kind: str | None = None) -> list[AppliedChange]:
        """Make ``count`` changes of the world now (see :class:`ChangeFeed`)."""
        if self.changes is None:
            raise RuntimeError("the simulator is not running")
        return self.changes.apply_changes(count, kind)

    def deleted(self) -> set[tuple[str, str]]:
        """The (type, id) of every resource hard-deleted so far (never reported by the API)."""
        return self.world.deleted_keys()
