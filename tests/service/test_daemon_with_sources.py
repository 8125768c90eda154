"""The daemon with the real FHIR and CSD engines against the local ROR: convergence under churn, and
/healthz following a source that stops answering and comes back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr

from rorsync.config import Settings
from rorsync.model import Source
from rorsync.simulator.server import Simulator
from rorsync.store.engine import Database
from tests.service.conftest import config_data, eventually, make_daemon, running, runs
from tests.service.test_http import get
from tests.simulator.conftest import TINY_SEED, tiny_world_file, world_copy  # noqa: F401 - fixtures
from tests.sync.csd import conftest as csd
from tests.sync.fhir import conftest as fhir

QUICK_HTTP = {"max_attempts": 2, "backoff_initial": "10ms", "backoff_max": "20ms", "read_timeout": "2s"}


def both_sources(sim: Simulator, db_url: str, state_dir: Path) -> Settings:
    credentials = sim.credentials(1)
    data = config_data(
        db_url,
        state_dir,
        fhir={
            "base_url": sim.fhir_base_url,
            "token_url": sim.token_url,
            "client_id": credentials.client_id,
            "client_secret": SecretStr(credentials.client_secret),
            "initial_load": "search",
            "http": QUICK_HTTP,
        },
        csd={
            "enabled": True,
            "endpoint": sim.csd_endpoint_url(1),
            "extraction_url": sim.extraction_url(1),
            "http": QUICK_HTTP,
        },
        schedule={"fhir_delta": "300ms", "fhir_capacity": "300ms", "csd_notif": "300ms", "csd_recheck": "1h"},
        service={"stale_after": "2s"},
    )
    return Settings(**data)


async def converged(sim: Simulator, db: Database) -> bool:
    fhir_live = await fhir.mirrored(db)
    if fhir_live != fhir.served(sim):
        return False
    truth = csd.served(sim)
    csd_live = await csd.mirrored(db)
    return {key: payload for key, payload in csd_live.items() if key in truth} == truth


async def test_the_daemon_mirrors_both_protocols_under_churn_and_health_follows_the_sources(
    world_copy: Path,  # noqa: F811 - fixture use
    mirror: Database,
    db_url: str,
    tmp_path: Path,
) -> None:
    async with Simulator(scale="tiny", seed=TINY_SEED, world_path=world_copy) as sim:
        settings = both_sources(sim, db_url, tmp_path / "state")
        health = f"http://{settings.service.listen}/healthz"
        daemon = make_daemon(settings, mirror)
        async with running(daemon):

            async def loaded() -> bool:
                done = set(await runs(mirror, Source.FHIR)) | set(await runs(mirror, Source.CSD))
                return ("full", "ok") in done and len(await runs(mirror, Source.CSD)) > 1

            await eventually(loaded, within=60, what="both initial loads")
            for kind in ("capacity", "update", "closure", "create", "capacity"):
                sim.apply_changes(4, kind)
            await eventually(lambda: converged(sim, mirror), within=30, what="the mirror to converge")

            async def answer(expected: int) -> bool:
                status, body = await get(health)
                return status == expected and isinstance(body, dict)

            await eventually(lambda: answer(200), within=10, what="/healthz 200")

            async def both_unhealthy() -> bool:
                status, body = await get(health)
                sources: dict[str, Any] = body["sources"]
                return status == 503 and not any(source["healthy"] for source in sources.values())

            sim.faults.inject(kind="status", status=503)  # the ROR stops answering, both protocols
            await eventually(both_unhealthy, within=30, what="/healthz 503 for both sources while the ROR is down")
            _, body = await get(health)
            assert all("503" in (source["last_error"] or "") for source in body["sources"].values())
            sim.faults.clear()
            await eventually(lambda: answer(200), within=30, what="/healthz 200 after recovery")
