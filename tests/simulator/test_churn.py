"""The change feed: updates bump lastUpdated, late commits surface later with older timestamps, hard
deletions vanish, references stay consistent, and the world's journal tells what happened."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from rorsync.simulator.fhir.service import FhirSettings
from rorsync.simulator.server import Simulator
from rorsync.simulator.world.apply import ResourceWrite
from rorsync.simulator.world.churn import ChangeFeed
from rorsync.simulator.world.elements import reference_id
from rorsync.simulator.world.index import capacity_code
from rorsync.simulator.world.instants import fhir_instant, parse_instant
from rorsync.simulator.world.stamps import touch
from rorsync.simulator.world.store import Change, WorldStore
from rorsync.sources.fhir import profile
from tests.simulator.client import SimClient
from tests.simulator.clock import FakeClock
from tests.simulator.test_fhir_export import download, run_export

Json = dict[str, Any]


def last_updated(body: Json) -> int:
    return parse_instant(body["meta"]["lastUpdated"])


def test_updates_and_capacity_changes_bump_last_updated(world: WorldStore) -> None:
    feed = ChangeFeed(world, seed=1)
    for _ in range(10):
        change = feed.apply_changes(1, "capacity")[0]
        body = world.get(*change.written[0])
        assert body is not None and last_updated(body.json()) == change.made_at
        dates = {
            sub["valueDateTime"]
            for ext in body.json()["extension"]
            if ext["url"] == profile.EXT_LOC_SUPPORTED_CAPACITY and capacity_code(ext, "status") in ("02", "03")
            for sub in ext["extension"]
            if sub["url"] == profile.CAPACITY_UPDATE_DATE
        }
        assert fhir_instant(change.made_at) in dates
    for _ in range(10):
        change = feed.apply_changes(1, "update")[0]
        found = world.get(*change.written[0])
        assert found is not None and last_updated(found.json()) == change.made_at == found.last_updated


def test_closures_are_data_not_deletions(world: WorldStore) -> None:
    feed = ChangeFeed(world, seed=2)
    for _ in range(15):
        change = feed.apply_changes(1, "closure")[0]
        kind, ident = change.written[0]
        body = world.get(kind, ident)
        assert body is not None
        text = body.body.decode()
        assert '"notAvailable"' in text or '"FT"' in text or '"FD"' in text or '"end"' in text, (
            f"{kind}/{ident} shows no closure"
        )
    assert world.deleted_keys() == set()


def test_hard_deletions_vanish_and_are_journaled(world: WorldStore) -> None:
    before = world.count()
    changes = ChangeFeed(world, seed=3).apply_changes(12, "delete")
    deleted = {key for change in changes for key in change.deleted}
    assert deleted and world.count() < before
    assert all(world.get(*key) is None for key in deleted)
    assert world.deleted_keys() == deleted
    journal = world.journal(action="delete")
    assert {(entry.resource_type, entry.resource_id) for entry in journal} == deleted
    changed = world.establishments_changed_since(min(change.made_at for change in changes))
    assert {entry.establishment for entry in journal if entry.establishment} <= changed


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_the_world_stays_consistent_under_churn(world: WorldStore, seed: int) -> None:
    ChangeFeed(world, seed=seed).apply_changes(150)
    keys = {(r.resource_type, r.resource_id) for r in world.iter_resources()}
    targets = {"partOf": "Organization", "providedBy": "Organization", "organization": "Organization"}
    targets |= {"location": "Location", "practitioner": "Practitioner", "healthcareService": "HealthcareService"}
    sensitive_locations = set()
    for resource in world.iter_resources():
        body = resource.json()
        for element, target in targets.items():
            value = body.get(element)
            for ref in value if isinstance(value, list) else [value] if value else []:
                assert (target, reference_id(ref, target)) in keys, f"{resource.resource_id}.{element} → {ref}"
        if resource.resource_type == "HealthcareService" and resource.sensitive:
            sensitive_locations |= {reference_id(ref, "Location") for ref in body.get("location", ())}
        if resource.establishment is not None:
            assert ("Organization", resource.establishment) in keys
    for location in world.iter_resources("Location"):
        assert location.sensitive == (location.resource_id in sensitive_locations)


def test_a_sensitivity_change_restamps_the_locations_it_hides(world: WorldStore) -> None:
    def hidden_nowhere(offer: Any) -> bool:
        refs = offer.json().get("location", ())
        found = [world.get("Location", reference_id(ref, "Location") or "") for ref in refs]
        return bool(found) and not any(location is None or location.sensitive for location in found)

    offer = next(r for r in world.iter_resources("HealthcareService") if not r.sensitive and hidden_nowhere(r))
    locations = [reference_id(ref, "Location") for ref in offer.json()["location"]]
    body = offer.json()
    for ext in body["extension"]:
        if ext["url"] == profile.EXT_HS_SENSITIVE_UNIT:
            ext["valueBoolean"] = True
    now = world.clock()
    made_at = now - now % 1000
    touch(body, made_at)
    world.record_change(
        Change("update", made_at, made_at, [ResourceWrite(body, offer.establishment)]), world.load_ids()
    )
    for location_id in locations:
        location = world.get("Location", location_id or "")
        assert location is not None and location.sensitive and location.last_updated == made_at
    touched = {(e.resource_type, e.resource_id) for e in world.journal(action="touch")}
    assert {("Location", location_id) for location_id in locations} <= touched


async def test_late_commits_appear_later_with_older_timestamps(
    world_copy: Path, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    async with Simulator(world_path=world_copy, clock=clock, late_commit_lag=60.0, churn_seed=7) as sim:
        client = SimClient(sim, session, 1)
        late = next(
            c for c in iter(lambda: sim.apply_changes(1, "capacity")[0], None) if c.visible_at > c.made_at + 2_000_000
        )
        clock.advance(1.0)
        prompt_feed = ChangeFeed(sim.world, seed=99)  # capacity changes only: no identifiers allocated
        prompt = prompt_feed.apply_changes(1, "capacity")[0]
        assert prompt.visible_at == prompt.made_at > late.made_at
        since = {"_lastUpdated": f"ge{fhir_instant(late.made_at)}"}
        seen = set(await client.ids("Location", since))
        assert prompt.written[0][1] in seen and late.written[0][1] not in seen
        status, body = await client.get(f"Location/{late.written[0][1]}")
        assert status == 200 and last_updated(body) < late.made_at
        clock.now = late.visible_at
        seen = set(await client.ids("Location", since))
        assert late.written[0][1] in seen
        status, body = await client.get(f"Location/{late.written[0][1]}")
        assert last_updated(body) == late.made_at < prompt.made_at


async def test_an_export_excludes_what_commits_after_its_transaction_time(
    world_copy: Path, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    settings = FhirSettings(export_polls=0, export_retry_after=0)
    async with Simulator(world_path=world_copy, clock=clock, late_commit_lag=60.0, settings=settings) as sim:
        client = SimClient(sim, session, 1)
        late = next(
            c for c in iter(lambda: sim.apply_changes(1, "capacity")[0], None) if c.visible_at > c.made_at + 2_000_000
        )
        clock.advance(1.0)
        manifest, _ = await run_export(client)
        transaction_time = parse_instant(manifest["transactionTime"])
        exported = {e["resource"]["id"]: e["resource"] for b in await download(client, manifest) for e in b["entry"]}
        assert late.made_at < transaction_time < late.visible_at
        assert last_updated(exported[late.written[0][1]]) < late.made_at  # the export holds the old version
        clock.now = late.visible_at
        found = sim.world.get(*late.written[0])
        assert found is not None and found.last_updated < transaction_time  # a cursor at transactionTime misses it


async def test_deleted_resources_disappear_from_the_api(sim: Simulator, session: aiohttp.ClientSession) -> None:
    client = SimClient(sim, session, 1)
    changes = sim.apply_changes(5, "delete")
    deleted = {key for change in changes for key in change.deleted}
    assert sim.deleted() == deleted
    served = {(body["resourceType"], body["id"]) for body in sim.served(1)}
    assert not deleted & served
    kind, ident = next(iter(deleted))
    assert (await client.get(f"{kind}/{ident}"))[0] == 404
    assert ident not in await client.ids(kind, {"_id": ident})


async def test_the_background_feed_runs_at_the_requested_rate(world_copy: Path) -> None:
    async with Simulator(world_path=world_copy, churn_per_minute=6000) as sim:
        await asyncio.sleep(0.5)
        assert len({entry.change_id for entry in sim.world.journal()}) >= 5


def test_bodies_written_by_the_feed_stay_compact(world: WorldStore) -> None:
    for change in ChangeFeed(world, seed=8).apply_changes(20):
        for key in change.written:
            found = world.get(*key)
            if found is not None:
                assert found.body == orjson.dumps(orjson.loads(found.body))
