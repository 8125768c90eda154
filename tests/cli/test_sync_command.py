"""``rorsync sync`` as an operator runs it: a subprocess against the local ROR."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rorsync.simulator.server import Simulator
from tests.conftest import ROOT
from tests.simulator.conftest import TINY_SEED, tiny_world_file, world_copy  # noqa: F401 - fixtures


@pytest.fixture
async def sim(world_copy: Path) -> AsyncIterator[Simulator]:  # noqa: F811 - fixture use
    async with Simulator(scale="tiny", seed=TINY_SEED, world_path=world_copy) as running:
        yield running


def config(tmp_path: Path, sim: Simulator, base_url: str | None = None) -> Path:
    path = tmp_path / "rorsync.toml"
    path.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        "[fhir]\nenabled = true\nprofile = 1\n"
        f'base_url = "{base_url or sim.fhir_base_url}"\ntoken_url = "{sim.token_url}"\n'
        f'client_id = "{sim.credentials(1).client_id}"\n'
        '[fhir.http]\nmax_attempts = 2\nbackoff_initial = "10ms"\n'
    )
    return path


async def rorsync(sim: Simulator, *args: str) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RORSYNC_FHIR__CLIENT_SECRET": sim.credentials(1).client_secret}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rorsync",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def test_sync_loads_then_polls_and_reports_through_status(sim: Simulator, tmp_path: Path) -> None:
    path = str(config(tmp_path, sim))
    assert (await rorsync(sim, "-c", path, "sync", "--source", "fhir"))[0] == 3  # schema first
    assert (await rorsync(sim, "-c", path, "db", "upgrade"))[0] == 0
    code, output = await rorsync(sim, "-c", path, "sync", "--source", "fhir")
    assert code == 0, output
    assert "fhir complete load" in output
    code, output = await rorsync(sim, "-c", path, "sync", "--source", "fhir")
    assert code == 0, output
    code, output = await rorsync(sim, "-c", path, "status", "--json")
    assert code == 0 and '"kind": "delta"' in output and '"status": "ok"' in output


async def test_sync_failures_exit_1_with_the_reason_and_disabled_sources_exit_2(sim: Simulator, tmp_path: Path) -> None:
    path = str(config(tmp_path, sim, base_url=sim.fhir_base_url.replace("/ws-diffusion-fhir", "/nowhere")))
    await rorsync(sim, "-c", path, "db", "upgrade")
    code, output = await rorsync(sim, "-c", path, "sync", "--source", "fhir")
    assert code == 1
    assert "rorsync: fhir sync failed:" in output and "404" in output and "Traceback" not in output
    code, output = await rorsync(sim, "-c", path, "sync", "--source", "csd")
    assert code == 2 and "the csd source is not enabled" in output
