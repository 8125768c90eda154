"""The demo: a local ROR with live churn, the daemon mirroring it into a throw-away SQLite database.

Everything a new user needs to see rorsync work, on one machine and offline: the simulator serves a
synthetic ROR (``small`` scale, changes every few seconds, late commits), the daemon runs exactly
as in production (initial load by ``$export``, deltas, capacity polling, health endpoint), and the
summary is read back through the per-profile views — the read model local applications use.
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import text

from rorsync.config import (
    DatabaseSettings,
    FhirSettings,
    LoggingSettings,
    RorHeaders,
    ScheduleSettings,
    ServiceSettings,
    Settings,
)
from rorsync.mirror import upgrade_mirror
from rorsync.service.daemon import Daemon
from rorsync.service.notify import Notifier
from rorsync.simulator.server import Simulator
from rorsync.simulator.world.files import default_world_path
from rorsync.store.engine import Database
from rorsync.store.schema import Timestamp
from rorsync.store.status import MirrorStatus, collect_status

DEMO_SEED = 7
DEMO_PROFILE = 1  # the mirror's feed: a SAMU-like consumer that receives everything


@dataclass(frozen=True, slots=True)
class DemoOptions:
    scale: str = "small"
    churn_per_minute: float = 240.0
    late_commit_lag: float = 3.0
    world: Path | None = None  # default: the simulator's cache, so later demos start at once


@dataclass(slots=True)
class Snapshot:
    """What the live summary shows, read from the mirror alone."""

    status: MirrorStatus
    changes: list[dict[str, Any]] = field(default_factory=list)
    beds: list[dict[str, Any]] = field(default_factory=list)


# The latest changes, named through the profile-2 read model (what an orientation tool would see).
LATEST_CHANGES = """
SELECT c.seq, c.changed_at, c.entity, c.op, COALESCE(o.name, l.name, g.name, c.resource_id) AS name
FROM p2_change_log c
LEFT JOIN p2_offer o ON c.entity = 'offer' AND o.source = c.source AND o.resource_id = c.resource_id
LEFT JOIN p2_location l ON c.entity = 'location' AND l.source = c.source AND l.resource_id = c.resource_id
LEFT JOIN p2_organization g ON c.entity = 'organization' AND g.source = c.source AND g.resource_id = c.resource_id
ORDER BY c.seq DESC
LIMIT :limit
"""

# Beds available now, most recently updated first: the read model's own example query.
AVAILABLE_BEDS = """
SELECT l.name, l.city, l.region_label AS region, c.nb, c.gender_label AS gender, c.updated_at
FROM p2_capacity c
JOIN p2_location l ON l.source = c.source AND l.resource_id = c.location_ref
WHERE c.capacity_type = '01' AND c.status = '02' AND c.temporality = '01'
ORDER BY c.updated_at DESC, l.name
LIMIT :limit
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def demo_settings(sim: Simulator, state_dir: Path) -> Settings:
    """The configuration an operator would write for this local ROR, with demo-friendly rhythms."""
    credentials = sim.credentials(DEMO_PROFILE)
    headers = credentials.headers
    return Settings(
        state_dir=state_dir,
        database=DatabaseSettings(url=f"sqlite:///{state_dir / 'demo.sqlite'}"),
        fhir=FhirSettings(
            enabled=True,
            base_url=sim.fhir_base_url,
            token_url=sim.token_url,
            client_id=credentials.client_id,
            client_secret=SecretStr(credentials.client_secret),
            profile=DEMO_PROFILE,
            headers=RorHeaders(
                user_profile_code=headers["Ror-Profil-Utilisateur-Code"],
                user_profile_system=headers["Ror-Profil-Utilisateur-System"],
                role_code=headers["Ror-Role-Metier-Code"],
                role_system=headers["Ror-Role-Metier-System"],
            ),
        ),
        schedule=ScheduleSettings(fhir_delta=dt.timedelta(seconds=15), fhir_capacity=dt.timedelta(seconds=5)),
        service=ServiceSettings(listen=f"127.0.0.1:{free_port()}"),
        logging=LoggingSettings(level="WARNING"),
    )


@dataclass
class Demo:
    sim: Simulator
    settings: Settings
    db: Database
    daemon: Daemon

    @property
    def health_url(self) -> str:
        return f"http://{self.settings.service.listen}/healthz"

    async def snapshot(self, rows: int = 8) -> Snapshot:
        status = await collect_status(self.db)
        found = Snapshot(status)
        if not status.schema_current:
            return found
        async with self.db.read() as conn:
            changes = text(LATEST_CHANGES).columns(changed_at=Timestamp)
            beds = text(AVAILABLE_BEDS).columns(updated_at=Timestamp)
            found.changes = [dict(r._mapping) for r in await conn.execute(changes, {"limit": rows})]
            found.beds = [dict(r._mapping) for r in await conn.execute(beds, {"limit": rows})]
        return found


@asynccontextmanager
async def running_demo(options: DemoOptions, state_dir: Path) -> AsyncIterator[Demo]:
    """Start the local ROR, prepare the mirror and build the daemon (the caller runs it)."""
    world = options.world or default_world_path(options.scale, DEMO_SEED)
    world.parent.mkdir(parents=True, exist_ok=True)
    async with Simulator(
        scale=options.scale,
        seed=DEMO_SEED,
        world_path=world,
        churn_per_minute=options.churn_per_minute,
        late_commit_lag=options.late_commit_lag,
    ) as sim:
        settings = demo_settings(sim, state_dir)
        db = Database(settings.database_url)
        try:
            await upgrade_mirror(db, settings)
            yield Demo(sim, settings, db, Daemon(settings, db, notifier=Notifier("")))
        finally:
            await db.close()
