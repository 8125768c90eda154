"""TR-Extraction: the timestamped ZIP of CSD parts, verified and read by rorsync's own extraction reader."""

from __future__ import annotations

import asyncio
import datetime as dt
import zipfile
from pathlib import Path

import aiohttp
import pytest
from lxml import etree

from rorsync.model import Entity, Record
from rorsync.simulator.csd.extraction import ExtractionCache, ExtractionTooLarge
from rorsync.simulator.csd.service import CsdSettings
from rorsync.simulator.server import Simulator
from rorsync.simulator.world.churn import ChangeFeed
from rorsync.simulator.world.store import WorldStore
from rorsync.sources.csd.errors import ExtractionError
from rorsync.sources.csd.extraction import extraction_time, verify_extraction
from rorsync.sources.csd.parse import parse_lecture
from tests.simulator.csd_support import assert_valid, csd_service
from tests.simulator.test_csd_render import lecture


async def download(session: aiohttp.ClientSession, url: str, target: Path) -> str:
    async with session.get(url) as response:
        assert response.status == 200
        assert response.content_type == "application/octet-stream"
        data = await response.read()
        await asyncio.to_thread(target.write_bytes, data)
        return response.headers["Content-Disposition"]


def keys(records: list[Record]) -> set[tuple[Entity, str]]:
    return {(record.entity, record.resource_id) for record in records}


async def test_extraction_is_a_verified_timestamped_zip_of_the_whole_offer(
    sim: Simulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    before = dt.datetime.now(dt.UTC)
    disposition = await download(session, sim.extraction_url(1), tmp_path / "p1.zip")
    assert disposition.startswith("attachment; filename=ExtractionOffresSante_Profil1_")
    stamp = extraction_time(disposition)
    assert before - dt.timedelta(minutes=1) <= stamp <= dt.datetime.now(dt.UTC)
    verified = verify_extraction(tmp_path / "p1.zip")
    with zipfile.ZipFile(tmp_path / "p1.zip") as archive:
        for part in verified.parts:
            root = etree.fromstring(archive.read(part.name))
            assert etree.QName(root).localname == "CSD"
            assert_valid(etree.tostring(root))
    records = list(verified.iter_records())
    assert all(isinstance(record, Record) for record in records)
    expected: set[tuple[Entity, str]] = set()
    for establishment_id in sim.world.establishment_ids():
        expected |= keys(parse_lecture(lecture(sim.world, establishment_id, 1)).records)
    assert keys(records) == expected  # type: ignore[arg-type]


def test_parts_respect_the_size_limit(world: WorldStore, tmp_path: Path) -> None:
    limit = 400_000
    service = csd_service(world, CsdSettings(extraction_part_bytes=limit))
    built = ExtractionCache(service, tmp_path).get(2)
    assert built.parts > 2
    verified = verify_extraction(built.path, max_part_bytes=limit)
    assert len(verified.parts) == built.parts and all(part.size < limit for part in verified.parts)
    whole = ExtractionCache(csd_service(world), tmp_path / "whole").get(2)
    assert whole.parts == 1
    assert keys(list(verified.iter_records())) == keys(list(verify_extraction(whole.path).iter_records()))  # type: ignore[arg-type]
    with pytest.raises(ExtractionTooLarge, match="establishment"):
        ExtractionCache(csd_service(world, CsdSettings(extraction_part_bytes=20_000)), tmp_path / "tiny").get(2)


def test_extractions_are_cached_per_world_version(world: WorldStore, tmp_path: Path) -> None:
    cache = ExtractionCache(csd_service(world), tmp_path)
    first = cache.get(0)
    assert cache.get(0) is first
    ChangeFeed(world, seed=1).apply_changes(1, "update")
    second = cache.get(0)
    assert second.version != first.version and not first.path.exists() and second.path.exists()


async def test_the_corrupt_digest_fault_is_rejected_by_the_client(
    sim: Simulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    sim.faults.inject("corrupt_digest", count=1)
    await download(session, sim.extraction_url(0), tmp_path / "bad.zip")
    with pytest.raises(ExtractionError, match="does not match its sidecar"):
        verify_extraction(tmp_path / "bad.zip")
    await download(session, sim.extraction_url(0), tmp_path / "good.zip")
    verify_extraction(tmp_path / "good.zip")


async def test_unknown_profiles_and_faults_on_the_extraction_route(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    async with session.get(sim.extraction_url(4)) as response:
        assert response.status == 404
    sim.faults.inject("rate_limit", count=1, path="/V1/extraction/")
    async with session.get(sim.extraction_url(0)) as response:
        assert response.status == 429 and response.headers["Retry-After"] == "1"


def test_profile_0_extraction_holds_public_data_only(world: WorldStore, tmp_path: Path) -> None:
    built = ExtractionCache(csd_service(world), tmp_path).get(0)
    records = [record for record in verify_extraction(built.path).iter_records() if isinstance(record, Record)]
    levels = {row["contact_confidentiality"] for record in records for row in record.contacts}
    levels |= {row["telecom_confidentiality"] for record in records for row in record.contacts}
    assert levels <= {None, 1}
    assert not any(record.entity is Entity.OFFER and record.row["sensitive"] for record in records)  # type: ignore[typeddict-item]


async def test_a_download_waits_so_long_then_gets_a_503_while_the_build_goes_on(
    world_copy: Path, session: aiohttp.ClientSession
) -> None:
    async with Simulator(world_path=world_copy, csd=CsdSettings(extraction_wait=0.0)) as sim:
        async with session.get(sim.extraction_url(1)) as response:
            assert response.status == 503 and response.content_type == "text/html"
            assert response.headers["Retry-After"] == "1"
        for _ in range(100):
            async with session.get(sim.extraction_url(1)) as response:
                if response.status == 200:
                    break
            await asyncio.sleep(0.1)
        assert response.status == 200
