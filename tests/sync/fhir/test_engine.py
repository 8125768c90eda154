"""The FHIR engine against the local ROR: loads, deltas, late commits, deletions, faults, TLS, resync."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from rorsync.model import Source
from rorsync.simulator.server import Simulator
from rorsync.simulator.world.churn import ChangeFeed
from rorsync.simulator.world.instants import now_micros
from rorsync.sources.fhir.client import FhirClient
from rorsync.sources.fhir.errors import FhirParseError
from rorsync.sources.fhir.parse import SearchPage
from rorsync.store import schema
from rorsync.store.engine import Database
from rorsync.store.requests import pending_requests
from rorsync.store.state import get_cursor
from rorsync.sync.engine import ResyncRequest
from rorsync.sync.fhir import FhirEngine, complete
from rorsync.sync.fhir.context import RESOURCE_ENTITIES, RESOURCE_TYPES, delta_stream
from rorsync.sync.fhir.delta import DeltaTooLarge
from rorsync.transport import RetriesExhausted, TlsError, TransportError
from tests.simulator.clock import FakeClock
from tests.sync.fhir.conftest import EngineFactory, engine_settings, mirrored, served


async def cursors(db: Database) -> dict[str, str | None]:
    async with db.read() as conn:
        return {t: await get_cursor(conn, Source.FHIR, delta_stream(t)) for t in RESOURCE_TYPES}


async def runs(db: Database) -> list[Any]:
    async with db.read() as conn:
        return list(await conn.execute(select(schema.sync_run).order_by(schema.sync_run.c.id)))


@pytest.mark.parametrize("initial_load", ["export", "search"])
async def test_a_complete_load_equals_the_served_world(
    sim: Simulator, database: Database, make_engine: EngineFactory, initial_load: str
) -> None:
    engine = make_engine(initial_load=initial_load)
    await engine.prepare()
    assert await engine.initial_load_needed()
    await engine.initial_load()
    assert await mirrored(database) == served(sim)
    assert not await engine.initial_load_needed()
    assert all(value is not None for value in (await cursors(database)).values())
    assert [(r.kind, r.status) for r in await runs(database)] == [("full", "ok")]


async def test_export_files_above_the_streaming_size_are_read_in_batches(
    sim: Simulator, database: Database, make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(complete, "STREAM_THRESHOLD_BYTES", 0)  # every file takes the large-file path
    engine = make_engine()
    await engine.prepare()
    await engine.initial_load()
    assert await mirrored(database) == served(sim)


async def test_deltas_under_churn_converge_and_only_a_reconcile_tombstones(
    sim: Simulator, database: Database, make_engine: EngineFactory, clock: FakeClock
) -> None:
    engine = make_engine()
    await engine.prepare()
    await engine.initial_load()
    for _ in range(4):
        clock.advance(2)
        for kind in ("capacity", "update", "closure", "create", "delete"):
            sim.apply_changes(3, kind)
        await engine.poll()
        await engine.poll_capacity()
    deleted = {(_entity(t), i) for t, i in sim.deleted()}
    assert deleted, "the churn made hard deletions"
    live = await mirrored(database)
    # Deltas never report deletions: the mirror still holds what disappeared, and nothing else differs.
    assert {key: body for key, body in live.items() if key not in deleted} == served(sim)
    assert await mirrored(database, tombstoned=True) == {}
    await engine.reconcile()
    assert await mirrored(database) == served(sim)
    assert set(await mirrored(database, tombstoned=True)) == deleted & set(live)
    async with database.read() as conn:
        ops = {op for (op,) in await conn.execute(select(schema.change_log.c.op).distinct())}
    assert {"insert", "update", "tombstone"} <= ops


@pytest.mark.parametrize(
    ("overlap", "caught"), [(dt.timedelta(minutes=5), True), (dt.timedelta(milliseconds=1), False)]
)
async def test_late_commits_are_caught_by_the_overlap(
    world_copy: Any, database: Database, tmp_path: Any, clock: FakeClock, overlap: dt.timedelta, caught: bool
) -> None:
    async with Simulator(world_path=world_copy, clock=clock, late_commit_lag=120.0, churn_seed=3) as sim:
        engine = FhirEngine(engine_settings(sim, tmp_path, overlap=overlap), database)
        try:
            await engine.prepare()
            await engine.initial_load()
            late = next(
                c for c in iter(lambda: sim.apply_changes(1, "capacity")[0], None) if c.visible_at > c.made_at + 30e6
            )
            clock.advance(1)
            prompt = ChangeFeed(sim.world, seed=99).apply_changes(5, "capacity")  # committed at once
            assert all(c.visible_at == c.made_at > late.made_at for c in prompt)
            await engine.poll_capacity()  # moves the cursor past the late change, not visible yet
            clock.now = late.visible_at
            await engine.poll_capacity()  # its timestamp is below the cursor: only the overlap catches it
            assert (await mirrored(database) == served(sim)) is caught
        finally:
            await engine.aclose()


@pytest.mark.parametrize(
    ("fault", "succeeds"),
    [
        ({"kind": "status", "status": 503, "count": 2}, True),
        ({"kind": "status", "status": 502, "count": 50}, False),
        ({"kind": "rate_limit", "retry_after": 0, "count": 2}, True),
        ({"kind": "reset", "count": 2}, True),
        ({"kind": "truncate", "count": 2}, True),
        ({"kind": "truncate", "count": 50}, False),
        ({"kind": "malformed", "count": 1}, False),
        ({"kind": "hang", "count": 50, "max_hang": 1.5}, False),
        ({"kind": "token_expiry", "count": 1}, True),
    ],
    ids=lambda value: value["kind"] + "-" + str(value.get("count")) if isinstance(value, dict) else str(value),
)
async def test_faults_leave_the_mirror_consistent_and_the_cursor_in_place(
    sim: Simulator,
    database: Database,
    make_engine: EngineFactory,
    clock: FakeClock,
    fault: dict[str, Any],
    succeeds: bool,
) -> None:
    engine = make_engine()
    await engine.prepare()
    await engine.initial_load()
    clock.advance(5)
    sim.apply_changes(20, "update")
    before = await cursors(database)
    sim.faults.inject(path="/Organization|/HealthcareService", **fault)
    if succeeds:
        await engine.poll()
    else:
        with pytest.raises((TransportError, FhirParseError)):
            await engine.poll()
    sim.faults.clear()
    last = (await runs(database))[-1]
    assert last.kind == "delta"
    if succeeds:
        assert last.status == "ok"
    else:
        assert last.status == "failed" and last.error
        assert await cursors(database) == before  # Organization, the first type polled, failed
    # Whatever happened, a clean poll converges: nothing half-written, nothing lost.
    await engine.poll()
    await engine.poll_capacity()
    assert await mirrored(database) == served(sim)


async def test_a_token_revoked_between_two_pages_is_renewed_and_the_run_completes(
    sim: Simulator, database: Database, tmp_path: Any, clock: FakeClock
) -> None:
    settings = engine_settings(sim, tmp_path / "state", page_size=5)
    revoked: list[bool] = []

    class RevokingClient(FhirClient):
        async def search(self, *args: Any, **kwargs: Any) -> AsyncIterator[SearchPage]:
            async for page in super().search(*args, **kwargs):
                yield page
                if not revoked:  # after the first page of the first search, every token is revoked
                    revoked.append(True)
                    sim.faults.inject(kind="token_expiry")

    engine = FhirEngine(settings, database, client=RevokingClient(settings.fhir))
    try:
        await engine.prepare()
        await engine.initial_load()
        clock.advance(5)
        sim.apply_changes(30, "update")
        await engine.poll()
        assert revoked and (await runs(database))[-1].status == "ok"
        await engine.poll_capacity()
        assert await mirrored(database) == served(sim)
    finally:
        await engine.aclose()


async def test_a_reconcile_that_fails_part_way_tombstones_nothing(
    sim: Simulator, database: Database, make_engine: EngineFactory
) -> None:
    engine = make_engine()
    await engine.prepare()
    await engine.initial_load()
    sim.apply_changes(10, "delete")
    loaded = await mirrored(database)
    sim.faults.inject(kind="status", status=502, path="export-get-file", count=1000)
    with pytest.raises(TransportError):
        await engine.reconcile()
    sim.faults.clear()
    assert await mirrored(database) == loaded
    assert await mirrored(database, tombstoned=True) == {}
    assert (await runs(database))[-1].status == "failed"


async def test_a_failed_run_explains_itself(
    sim: Simulator, database: Database, make_engine: EngineFactory, clock: FakeClock
) -> None:
    engine = make_engine()
    await engine.prepare()
    await engine.initial_load()
    sim.faults.inject(kind="status", status=503, path="/Location")
    with pytest.raises(RetriesExhausted):
        await engine.poll_capacity()
    error = (await runs(database))[-1].error
    assert "RetriesExhausted" in error and "503" in error and "/Location" in error
    assert "Bearer" not in error and "secret" not in error.lower()


async def test_mutual_tls_with_the_simulators_certificates(world_copy: Any, database: Database, tmp_path: Any) -> None:
    async with Simulator(world_path=world_copy, tls=True, tls_dir=tmp_path / "pki") as sim:
        engine = FhirEngine(engine_settings(sim, tmp_path, profile=2, initial_load="search"), database)
        await engine.prepare()
        await engine.initial_load()
        assert await mirrored(database) == served(sim, profile=2)
        await engine.aclose()
        sim.faults.inject(kind="tls_wrong_ca")
        refused = FhirEngine(engine_settings(sim, tmp_path, profile=2), database)
        await refused.prepare()
        with pytest.raises((TlsError, RetriesExhausted), match="certificate"):
            await refused.poll()
        await refused.aclose()


async def test_targeted_resync_of_an_organization_and_of_a_resource(
    sim: Simulator, database: Database, make_engine: EngineFactory, clock: FakeClock
) -> None:
    engine = make_engine()
    await engine.prepare()
    await engine.initial_load()
    clock.advance(5)
    changed = sim.apply_changes(10, "update")
    establishment = next(
        eg
        for change in changed
        for resource_type, resource_id in change.written
        if (eg := sim.world.establishment_of(resource_type, resource_id))
    )
    eg_body = sim.world.get("Organization", establishment)
    assert eg_body is not None
    finess = next(i["value"] for i in eg_body.json()["identifier"] if i["system"] == "https://finess.esante.gouv.fr")
    await engine.resync(ResyncRequest(organization=finess))
    subtree = sim.world.subtree(establishment)
    assert subtree is not None
    mirror, truth = await mirrored(database), served(sim)
    parts = [subtree.establishment, *subtree.internal_organizations, *subtree.offers, *subtree.locations]
    in_subtree = [key for key in truth if key[1] in {r["id"] for r in parts}]
    assert in_subtree and all(mirror[key] == truth[key] for key in in_subtree)
    location = next(iter(r["id"] for r in sim.served(1, "Location")))
    await engine.resync(ResyncRequest(resource=f"Location/{location}"))
    await engine.resync(ResyncRequest(resource="Location/does-not-exist"))
    statuses = [(r.kind, r.status) for r in await runs(database)][-3:]
    assert statuses == [("resync", "ok"), ("resync", "ok"), ("resync", "partial")]


async def test_a_delta_above_the_result_cap_is_split_and_one_too_large_queues_a_complete_load(
    sim: Simulator, database: Database, tmp_path: Any, clock: FakeClock
) -> None:
    settings = engine_settings(sim, tmp_path / "state")
    engine = FhirEngine(settings, database, client=FhirClient(settings.fhir, result_cap=2))
    try:
        await engine.prepare()
        await engine.initial_load()
        for _ in range(5):  # 10 Location changes over 5 instants: above the cap, split by time
            await asyncio.sleep(0.01)
            clock.now = now_micros()  # stamps behind the server's clock, as on a real server
            sim.apply_changes(2, "capacity")
        await engine.poll_capacity()
        assert await mirrored(database) == served(sim)
        assert await pending_requests(database) == []

        clock.now = now_micros()
        sim.apply_changes(40, "capacity")  # one instant, fewer regions than 40 / 2: above the cap
        with pytest.raises(DeltaTooLarge):
            await engine.poll_capacity()
        assert [(r.source, r.full) for r in await pending_requests(database)] == [("fhir", True)]
        await engine.resync(ResyncRequest(full=True))  # what the daemon does with the request
        assert await mirrored(database) == served(sim)
    finally:
        await engine.aclose()


def _entity(resource_type: str) -> str:
    return RESOURCE_ENTITIES[resource_type].value
