"""$export: kick-off, polling with Retry-After, manifest, JSON Bundle files equal to the served world."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from rorsync.simulator.fhir.service import FhirSettings
from rorsync.simulator.server import Simulator
from rorsync.simulator.world.instants import parse_instant
from rorsync.sources.fhir import profile
from tests.simulator.client import SimClient
from tests.simulator.conftest import TINY_SEED

Json = dict[str, Any]
EXPORT_SETTINGS = FhirSettings(export_polls=2, export_retry_after=0, export_file_max_resources=50)


@pytest.fixture
async def export_sim(world_copy: Path) -> Any:
    async with Simulator(scale="tiny", seed=TINY_SEED, world_path=world_copy, settings=EXPORT_SETTINGS) as running:
        yield running


async def run_export(client: SimClient, params: dict[str, str] | None = None) -> tuple[Json, list[int]]:
    """Kick off, poll until the manifest (honouring Retry-After); returns the manifest and the 202 count."""
    query = {"_outputFormat": "application/fhir+json", "_type": "HealthcareService", **(params or {})}
    async with client.session.get(
        f"{client.sim.fhir_base_url}/$export", params=query, headers=await client.headers()
    ) as kick:
        assert kick.status == 202, await kick.text()
        status_url = kick.headers["Content-Location"]
    retries: list[int] = []
    while True:
        async with client.session.get(status_url, headers=await client.headers()) as poll:
            if poll.status == 200:
                return await poll.json(), retries
            assert poll.status == 202
            retries.append(int(poll.headers["Retry-After"]))
        await asyncio.sleep(retries[-1] or 0.05)


async def download(client: SimClient, manifest: Json) -> list[Json]:
    bundles = []
    for output in manifest["output"]:
        async with client.session.get(output["url"], headers=await client.headers()) as response:
            assert response.status == 200 and response.content_type == "application/fhir+json"
            bundles.append(await response.json(content_type=None))
    return bundles


async def test_export_flow_gives_json_bundles_equal_to_the_served_world(
    export_sim: Simulator, session: aiohttp.ClientSession
) -> None:
    client = SimClient(export_sim, session, 1)
    manifest, retries = await run_export(client)
    assert len(retries) >= 2 and set(retries) == {0}  # at least export_polls answers of 202
    assert manifest["requiresAccessToken"] is True and manifest["error"] == []
    assert parse_instant(manifest["transactionTime"]) > 0 and "$export" in manifest["request"]
    bundles = await download(client, manifest)
    assert all(bundle["resourceType"] == "Bundle" and bundle["type"] == "collection" for bundle in bundles)
    assert all(0 < len(bundle["entry"]) <= 50 for bundle in bundles)
    assert [len(b["entry"]) for b in bundles] == [output["count"] for output in manifest["output"]]
    exported = sorted(
        (e["resource"]["resourceType"], e["resource"]["id"], str(e["resource"])) for b in bundles for e in b["entry"]
    )
    served = sorted((body["resourceType"], body["id"], str(body)) for body in export_sim.served(1))
    assert exported == served
    assert {output["type"] for output in manifest["output"]} == set(profile.RESOURCE_TYPES)


async def test_export_is_filtered_by_profile(export_sim: Simulator, session: aiohttp.ClientSession) -> None:
    client = SimClient(export_sim, session, 2)
    manifest, _ = await run_export(client)
    exported = {
        (e["resource"]["resourceType"], e["resource"]["id"])
        for b in await download(client, manifest)
        for e in b["entry"]
    }
    assert exported == {(body["resourceType"], body["id"]) for body in export_sim.served(2)}
    sensitive = [r.resource_id for r in export_sim.world.iter_resources("HealthcareService") if r.sensitive]
    assert sensitive and not {("HealthcareService", ident) for ident in sensitive} & exported


async def test_type_filter_restricts_the_export_to_one_region(
    export_sim: Simulator, session: aiohttp.ClientSession
) -> None:
    client = SimClient(export_sim, session, 1)
    region = next(export_sim.served(1, "HealthcareService"))["meta"]["tag"][0]["code"]
    type_filter = f"HealthcareService?_tag={profile.REGION_TAG_SYSTEM}|{region}"
    manifest, _ = await run_export(client, {"_typeFilter": type_filter})
    exported = [e["resource"] for b in await download(client, manifest) for e in b["entry"]]
    assert exported and {body["meta"]["tag"][0]["code"] for body in exported} == {region}
    assert len(exported) == sum(1 for body in export_sim.served(1) if body["meta"]["tag"][0]["code"] == region)


@pytest.mark.parametrize(
    "params",
    [
        {"_outputFormat": "application/fhir+ndjson"},
        {"_since": "2024-01-01"},
        {"_typeFilter": "HealthcareService?name=x"},
    ],
)
async def test_unsupported_kick_off_parameters_are_refused(
    export_sim: Simulator, session: aiohttp.ClientSession, params: dict[str, str]
) -> None:
    client = SimClient(export_sim, session, 1)
    async with session.get(
        f"{export_sim.fhir_base_url}/$export", params=params, headers=await client.headers()
    ) as response:
        assert response.status == 400
        assert (await response.json(content_type=None))["resourceType"] == "OperationOutcome"


async def test_downloads_need_the_same_authentication(export_sim: Simulator, session: aiohttp.ClientSession) -> None:
    client = SimClient(export_sim, session, 1)
    manifest, _ = await run_export(client)
    url = manifest["output"][0]["url"]
    async with session.get(url) as response:
        assert response.status == 401
    other = SimClient(export_sim, session, 4)
    async with session.get(url, headers=await other.headers()) as response:
        assert response.status == 404


async def test_a_cancelled_job_is_gone(export_sim: Simulator, session: aiohttp.ClientSession) -> None:
    client = SimClient(export_sim, session, 0)
    async with session.get(f"{export_sim.fhir_base_url}/$export", headers=await client.headers()) as kick:
        status_url = kick.headers["Content-Location"]
    async with session.delete(status_url, headers=await client.headers()) as response:
        assert response.status == 202
    async with session.get(status_url, headers=await client.headers()) as response:
        assert response.status == 404
