"""A local ROR and a CSD engine pointed at it, and both sides of the comparison.

The oracle is a fresh TR-Extraction of the simulator, parsed: payloads are exclusive-C14N XML, the
same bytes whichever transaction carried an object, so "the mirror equals the served world" is a
comparison of ``{(entity, business key): payload}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from rorsync.config import CsdSettings, HttpSettings, Settings, TlsSettings
from rorsync.model import Record, Source
from rorsync.simulator.server import Simulator
from rorsync.simulator.world.instants import from_micros
from rorsync.sources.csd.extraction import verify_extraction
from rorsync.store import schema
from rorsync.store.engine import Database
from rorsync.store.upsert import payload_hash
from rorsync.sync.csd import CsdEngine
from tests.simulator.clock import FakeClock
from tests.simulator.conftest import TINY_SEED, tiny_world_file, world_copy  # noqa: F401 - fixtures

Key = tuple[str, str]  # (entity, resource id)

FAST_HTTP = HttpSettings(
    max_attempts=3,
    backoff_initial=dt.timedelta(milliseconds=10),
    backoff_max=dt.timedelta(milliseconds=50),
    read_timeout=dt.timedelta(seconds=2),
)


def csd_settings(sim: Simulator, state_dir: Path, *, profile: int = 1, extraction: bool = True, **csd: Any) -> Settings:
    tls = TlsSettings()
    if sim.options.tls:
        credentials = sim.credentials(profile)
        tls = TlsSettings(
            client_cert=credentials.certificate,
            client_key=credentials.private_key,
            ca_bundle=credentials.ca_certificate,
        )
    options: dict[str, Any] = {
        "enabled": True,
        "endpoint": sim.csd_endpoint_url(profile),
        "extraction_url": sim.extraction_url(profile) if extraction else None,
        "profile": profile,
        "tls": tls,
        "http": FAST_HTTP,
        **csd,
    }
    return Settings(state_dir=state_dir, csd=CsdSettings(**options))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def sim(world_copy: Path, clock: FakeClock) -> AsyncIterator[Simulator]:  # noqa: F811 - fixture use
    async with Simulator(scale="tiny", seed=TINY_SEED, world_path=world_copy, clock=clock) as running:
        yield running


EngineFactory = Callable[..., CsdEngine]


@pytest.fixture
async def make_engine(
    sim: Simulator, database: Database, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[EngineFactory]:
    """Engines on the world's clock, so that a test moving time moves it for both sides."""
    engines: list[CsdEngine] = []

    def make(**csd: Any) -> CsdEngine:
        settings = csd_settings(sim, tmp_path / "state", **csd)
        engine = CsdEngine(settings, database, clock=lambda: from_micros(clock.now))
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        await engine.aclose()


def served(sim: Simulator, profile: int = 1) -> dict[Key, bytes]:
    """What a CSD client of ``profile`` is served now: a fresh extraction, parsed.

    A practitioner with roles in two places comes as two ``provider`` elements; like the store, keep
    the newest version.
    """
    built = sim.extractions.build(profile)
    newest: dict[Key, Record] = {}
    for item in verify_extraction(built.path).iter_records():
        if isinstance(item, Record):
            key = (item.entity.value, item.resource_id)
            kept = newest.get(key)
            if kept is None or _version(item) > _version(kept):
                newest[key] = item
    return {key: record.payload for key, record in newest.items()}


def _version(record: Record) -> tuple[dt.datetime, int]:
    return record.last_updated, payload_hash(record.payload)


async def mirrored(db: Database, *, source: Source = Source.CSD, tombstoned: bool = False) -> dict[Key, bytes]:
    found: dict[Key, bytes] = {}
    async with db.read() as conn:
        for entity, table in schema.ENTITY_TABLES.items():
            condition = table.c.deleted_at.is_not(None) if tombstoned else table.c.deleted_at.is_(None)
            query = select(table.c.resource_id, table.c.payload).where(table.c.source == source.value, condition)
            for row in await conn.execute(query):
                found[(entity.value, row.resource_id)] = row.payload
    return found


async def runs(db: Database) -> list[Any]:
    async with db.read() as conn:
        return list(await conn.execute(select(schema.sync_run).order_by(schema.sync_run.c.id)))


async def cursors(db: Database, source: Source = Source.CSD) -> dict[str, str]:
    async with db.read() as conn:
        rows = await conn.execute(select(schema.sync_cursor).where(schema.sync_cursor.c.source == source.value))
        return {row.stream: row.value for row in rows}
