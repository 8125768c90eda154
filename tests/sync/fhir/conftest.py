"""A local ROR and an engine pointed at it, for the FHIR sync tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from rorsync.config import FhirSettings, HttpSettings, RorHeaders, Settings, TlsSettings
from rorsync.model import Source
from rorsync.simulator.fhir.service import FhirSettings as SimulatorSettings
from rorsync.simulator.server import Simulator
from rorsync.store import schema
from rorsync.store.engine import Database
from rorsync.sync.fhir import FhirEngine
from rorsync.sync.fhir.context import RESOURCE_ENTITIES
from tests.simulator.clock import FakeClock
from tests.simulator.conftest import TINY_SEED, tiny_world_file, world_copy  # noqa: F401 - fixtures

Key = tuple[str, str]  # (entity, resource id)


def engine_settings(sim: Simulator, state_dir: Path, *, profile: int = 1, **fhir: Any) -> Settings:
    credentials = sim.credentials(profile)
    headers = credentials.headers
    tls = TlsSettings()
    if credentials.certificate is not None:
        tls = TlsSettings(
            client_cert=credentials.certificate,
            client_key=credentials.private_key,
            ca_bundle=credentials.ca_certificate,
        )
    options: dict[str, Any] = {
        "enabled": True,
        "base_url": sim.fhir_base_url,
        "token_url": sim.token_url,
        "client_id": credentials.client_id,
        "client_secret": SecretStr(credentials.client_secret),
        "profile": profile,
        "tls": tls,
        "headers": RorHeaders(
            user_profile_code=headers["Ror-Profil-Utilisateur-Code"],
            user_profile_system=headers["Ror-Profil-Utilisateur-System"],
            role_code=headers["Ror-Role-Metier-Code"],
            role_system=headers["Ror-Role-Metier-System"],
        ),
        "http": HttpSettings(
            max_attempts=3,
            backoff_initial=dt.timedelta(milliseconds=10),
            backoff_max=dt.timedelta(milliseconds=50),
            read_timeout=dt.timedelta(seconds=1),
        ),
        **fhir,
    }
    return Settings(state_dir=state_dir, fhir=FhirSettings(**options))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def sim(world_copy: Path, clock: FakeClock) -> AsyncIterator[Simulator]:  # noqa: F811 - fixture use
    settings = SimulatorSettings(export_polls=1, export_retry_after=0, export_file_max_resources=150)
    async with Simulator(
        scale="tiny", seed=TINY_SEED, world_path=world_copy, clock=clock, settings=settings
    ) as running:
        yield running


EngineFactory = Callable[..., FhirEngine]


@pytest.fixture
async def make_engine(sim: Simulator, database: Database, tmp_path: Path) -> AsyncIterator[EngineFactory]:
    engines: list[FhirEngine] = []

    def make(**fhir: Any) -> FhirEngine:
        engine = FhirEngine(engine_settings(sim, tmp_path / "state", **fhir), database)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        await engine.aclose()


def served(sim: Simulator, profile: int = 1) -> dict[Key, dict[str, Any]]:
    return {(RESOURCE_ENTITIES[body["resourceType"]].value, body["id"]): body for body in sim.served(profile)}


async def mirrored(db: Database, *, tombstoned: bool = False) -> dict[Key, dict[str, Any]]:
    found: dict[Key, dict[str, Any]] = {}
    async with db.read() as conn:
        for entity, table in schema.ENTITY_TABLES.items():
            condition = table.c.deleted_at.is_not(None) if tombstoned else table.c.deleted_at.is_(None)
            query = select(table.c.resource_id, table.c.payload).where(table.c.source == Source.FHIR.value, condition)
            for row in await conn.execute(query):
                found[(entity.value, row.resource_id)] = orjson.loads(row.payload)
    return found
