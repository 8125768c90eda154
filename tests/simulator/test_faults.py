"""Each fault kind, as an aiohttp client observes it; path targeting, counts and the control endpoint."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest

from rorsync.simulator.faults import Fault, FaultKind
from rorsync.simulator.fhir.service import FhirSettings
from rorsync.simulator.server import Simulator
from tests.simulator.client import SimClient
from tests.simulator.conftest import TINY_SEED
from tests.simulator.test_fhir_export import run_export


async def test_latency_delays_the_answer(sim: Simulator, session: aiohttp.ClientSession) -> None:
    client = SimClient(sim, session, 1)
    await client.fetch_token()
    sim.faults.inject("latency", delay=0.4, count=1)
    started = time.monotonic()
    status, _ = await client.get("Location", {"_count": "1"})
    assert status == 200 and time.monotonic() - started >= 0.4


async def test_a_5xx_burst_then_recovery_on_the_targeted_path_only(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    client = SimClient(sim, session, 1)
    await client.fetch_token()
    sim.faults.inject(kind="status", status=503, count=3, path="/Location")
    assert (await client.get("HealthcareService", {"_count": "1"}))[0] == 200
    statuses = [(await client.get("Location", {"_count": "1"}))[0] for _ in range(4)]
    assert statuses == [503, 503, 503, 200]
    assert sim.faults.active() == []


async def test_rate_limiting_answers_429_with_retry_after(sim: Simulator, session: aiohttp.ClientSession) -> None:
    client = SimClient(sim, session, 1)
    sim.faults.inject("rate_limit", retry_after=7, count=1, path="/Organization")
    async with session.get(f"{sim.fhir_base_url}/Organization", headers=await client.headers()) as response:
        assert response.status == 429 and response.headers["Retry-After"] == "7"


async def test_connection_reset(sim: Simulator, session: aiohttp.ClientSession) -> None:
    client = SimClient(sim, session, 1)
    headers = await client.headers()
    sim.faults.inject("reset", count=2)  # aiohttp silently retries an idempotent request once after a reset
    with pytest.raises((aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)):
        async with session.get(f"{sim.fhir_base_url}/Location", headers=headers) as response:
            await response.read()
    assert sim.faults.active() == []
    assert (await client.get("Location", {"_count": "1"}))[0] == 200


async def test_truncated_body(sim: Simulator, session: aiohttp.ClientSession) -> None:
    client = SimClient(sim, session, 1)
    headers = await client.headers()
    sim.faults.inject("truncate", count=1)
    with pytest.raises(aiohttp.ClientPayloadError):
        async with session.get(f"{sim.fhir_base_url}/HealthcareService", headers=headers) as response:
            assert response.status == 200
            await response.read()


async def test_malformed_json(sim: Simulator, session: aiohttp.ClientSession) -> None:
    client = SimClient(sim, session, 1)
    headers = await client.headers()
    sim.faults.inject("malformed", count=1)
    async with session.get(f"{sim.fhir_base_url}/Practitioner", headers=headers) as response:
        assert response.status == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(await response.read())


async def test_a_hung_request_times_out_and_the_server_still_stops(world_copy: Path) -> None:
    async with Simulator(world_path=world_copy) as sim, aiohttp.ClientSession() as session:
        client = SimClient(sim, session, 1)
        headers = await client.headers()
        sim.faults.inject("hang", max_hang=60.0)
        with pytest.raises(asyncio.TimeoutError):
            timeout = aiohttp.ClientTimeout(total=0.3)
            async with session.get(f"{sim.fhir_base_url}/Location", headers=headers, timeout=timeout) as response:
                await response.read()
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 10


async def test_token_expiry_revokes_issued_tokens(sim: Simulator, session: aiohttp.ClientSession) -> None:
    client = SimClient(sim, session, 0)
    assert (await client.get("metadata"))[0] == 200
    sim.faults.inject("token_expiry")
    status, outcome = await client.get("metadata")
    assert status == 401 and outcome["issue"][0]["code"] == "expired"
    await client.fetch_token()
    assert (await client.get("metadata"))[0] == 200


async def test_truncated_export_download(world_copy: Path, session: aiohttp.ClientSession) -> None:
    settings = FhirSettings(export_polls=0, export_retry_after=0)
    async with Simulator(world_path=world_copy, settings=settings) as sim:
        client = SimClient(sim, session, 1)
        manifest, _ = await run_export(client)
        sim.faults.inject("truncate", path=r"\$export-get-file", count=1)
        url = manifest["output"][0]["url"]
        with pytest.raises(aiohttp.ClientPayloadError):
            async with session.get(url, headers=await client.headers()) as response:
                await response.read()
        async with session.get(url, headers=await client.headers()) as response:
            assert (await response.json(content_type=None))["resourceType"] == "Bundle"


async def test_the_control_endpoint_adds_lists_and_removes_faults(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    control = f"{sim.origin}/_control/faults"
    async with session.post(control, json={"kind": "status", "status": 502, "path": "/Location"}) as response:
        assert response.status == 201
        fault_id = (await response.json())["fault_id"]
    async with session.get(control) as response:
        assert [fault["fault_id"] for fault in await response.json()] == [fault_id]
    client = SimClient(sim, session, 1)
    assert (await client.get("Location"))[0] == 502
    async with session.delete(f"{control}/{fault_id}") as response:
        assert (await response.json())["removed"] == 1
    assert (await client.get("Location", {"_count": "1"}))[0] == 200
    async with session.post(control, json={"kind": "nonsense"}) as response:
        assert response.status == 400


async def test_the_control_endpoint_makes_changes(sim: Simulator, session: aiohttp.ClientSession) -> None:
    async with session.post(f"{sim.origin}/_control/changes", params={"count": "3", "kind": "delete"}) as response:
        assert response.status == 200
        changes = await response.json()
    assert len(changes) == 3 and all(change["kind"] == "delete" for change in changes)
    assert sim.deleted() == {tuple(key) for change in changes for key in change["deleted"]}


def test_faults_parse_from_the_command_line_form() -> None:
    fault = Fault.parse("status:status=502,count=3,path=/Location")
    assert (fault.kind, fault.status, fault.count, fault.path) == (FaultKind.STATUS, 502, 3, "/Location")
    with pytest.raises(ValueError, match="count"):
        Fault.parse("status:count=many")
    with pytest.raises(ValueError, match="unknown fault option"):
        Fault.parse("latency:speed=3")


async def test_faults_given_at_start_are_active(world_copy: Path, session: aiohttp.ClientSession) -> None:
    faults = [Fault.parse("rate_limit:count=1,retry_after=2")]
    async with (
        Simulator(scale="tiny", seed=TINY_SEED, world_path=world_copy, faults=faults) as sim,
        session.post(sim.token_url, data={"grant_type": "client_credentials"}) as response,
    ):
        assert response.status == 429
