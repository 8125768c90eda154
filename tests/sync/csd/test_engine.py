"""The CSD engine against the local ROR: complete loads, TR-Notif cycles, absence sweeps, errors, TLS, resync."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from rorsync.config import VihfSettings
from rorsync.model import Source
from rorsync.simulator.csd.service import CsdSettings as SimulatorCsdSettings
from rorsync.simulator.server import Simulator
from rorsync.simulator.world.churn import AppliedChange
from rorsync.sources.csd.client import vihf_settings
from rorsync.sources.csd.errors import CsdResponseError, CsdServiceError, ExtractionError
from rorsync.sources.csd.messages import build_lecture_establishment_request
from rorsync.sources.csd.parse import parse_lecture
from rorsync.sources.fhir.profile import SYSTEM_ID_NAT_STRUCT
from rorsync.store import schema
from rorsync.store.engine import Database
from rorsync.store.lookup import establishment_ids
from rorsync.sync.csd import CsdEngine
from rorsync.sync.csd.engine import recheck_share
from rorsync.sync.engine import ResyncRequest
from rorsync.sync.offload import started_slots
from rorsync.transport import RetriesExhausted, TlsError
from tests.simulator.clock import FakeClock
from tests.simulator.conftest import TINY_SEED
from tests.sync.csd.conftest import EngineFactory, csd_settings, cursors, mirrored, runs, served


@pytest.mark.parametrize("extraction", [True, False], ids=["extraction", "lecture"])
async def test_a_complete_load_equals_the_served_world(
    sim: Simulator, database: Database, make_engine: EngineFactory, extraction: bool
) -> None:
    engine = make_engine(extraction=extraction)
    await engine.prepare()
    assert await engine.initial_load_needed()
    await engine.initial_load()
    assert await mirrored(database) == served(sim)
    assert not await engine.initial_load_needed()
    state = await cursors(database)
    assert state["notif"] and orjson.loads(state.get("notif:pending", "{}")) == {}
    assert [(r.kind, r.status) for r in await runs(database)] == [("full", "ok")]


@pytest.mark.parametrize("readers", [1, 3])
async def test_an_extraction_in_parts_loads_the_same_with_one_reader_or_several(
    world_copy: Path, clock: FakeClock, database: Database, tmp_path: Path, readers: int
) -> None:
    # The simulator repeats an EJ in every part holding one of its EGs, as the ROR does: readers of
    # different parts must resolve the same references as one reader of them all.
    part_bytes = SimulatorCsdSettings(extraction_part_bytes=700_000)
    async with Simulator(scale="tiny", seed=TINY_SEED, world_path=world_copy, clock=clock, csd=part_bytes) as sim:
        engine = CsdEngine(csd_settings(sim, tmp_path / "state", extraction_readers=readers), database)
        try:
            await engine.prepare()
            await engine.initial_load()
        finally:
            await engine.aclose()
        assert await mirrored(database) == served(sim)
    assert set(started_slots()) <= {0}, "the extra readers stop with the load"
    (run,) = await runs(database)
    assert (run.status, orjson.loads(run.counts)["parts"]) == ("ok", 4)


async def test_deltas_under_churn_converge_and_only_evidence_tombstones(
    sim: Simulator, database: Database, make_engine: EngineFactory, clock: FakeClock
) -> None:
    # full_read_every = csd_recheck: one recheck reads every establishment.
    engine = make_engine(full_read_every=dt.timedelta(hours=1))
    await engine.prepare()
    await engine.initial_load()
    before = await mirrored(database)
    for _ in range(4):
        clock.advance(60)
        for kind in ("capacity", "update", "closure", "create", "delete"):
            sim.apply_changes(3, kind)
        await engine.poll()
    truth, live = served(sim), await mirrored(database)
    # TR-Notif + TR-Lecture carry every change; deletions only show as absence, which deltas never read.
    assert {key: payload for key, payload in live.items() if key in truth} == truth
    assert await mirrored(database, tombstoned=True) == {}
    gone = (set(before) | set(live)) - set(truth)
    assert gone, "the churn deleted objects"

    await engine.recheck()  # full reads: what each establishment no longer holds is tombstoned
    swept = set(await mirrored(database, tombstoned=True))
    assert swept and swept <= gone
    assert {key: payload for key, payload in (await mirrored(database)).items() if key in truth} == truth

    clock.advance(2 * 3600)  # an extraction taken well after the last reads (csd.overlap guards clock skew)
    await engine.reconcile()  # the extraction also settles whole establishments and practitioners
    assert await mirrored(database) == truth
    assert set(await mirrored(database, tombstoned=True)) == gone
    kinds = [(r.kind, r.status) for r in await runs(database)]
    assert kinds[0] == ("full", "ok") and kinds[-1] == ("reconcile", "ok")
    assert {kind for kind, _ in kinds} == {"full", "delta", "recheck", "reconcile"}


def changed_establishment(sim: Simulator, changes: list[AppliedChange]) -> str:
    """The idNatStruct of an EG that one of ``changes`` touched."""
    for change in changes:
        for resource_type, resource_id in change.written:
            establishment = sim.world.establishment_of(resource_type, resource_id)
            body = sim.world.get("Organization", establishment) if establishment else None
            if body is not None:
                return next(i["value"] for i in body.json()["identifier"] if i["system"] == SYSTEM_ID_NAT_STRUCT)
    raise AssertionError("no change touched an establishment")


def lecture_keys(sim: Simulator, establishment: str) -> set[tuple[str, str]]:
    """What one TR-Lecture of ``establishment`` holds, read from the simulator directly."""
    answer = sim.csd.answer(build_lecture_establishment_request(establishment).body, 1)
    return {(record.entity.value, record.resource_id) for record in parse_lecture(answer.body).records}


@pytest.mark.parametrize("form", ["in-band", "fault"])
async def test_an_establishment_refused_is_journaled_kept_pending_and_the_others_proceed(
    sim: Simulator, database: Database, make_engine: EngineFactory, clock: FakeClock, form: str
) -> None:
    engine = make_engine()
    await engine.prepare()
    await engine.initial_load()
    clock.advance(60)
    refused = changed_establishment(sim, sim.apply_changes(12, "update"))
    sim.faults.inject(kind="csd_error", form=form, match=f"TR_Lecture.*{refused}")
    first_cursor = (await cursors(database))["notif"]
    await engine.poll()
    last = (await runs(database))[-1]
    assert (last.kind, last.status) == ("delta", "partial")
    assert f"establishment {refused}" in last.error and "444" in last.error and "Non prévu" in last.error
    pending = orjson.loads((await cursors(database))["notif:pending"])
    assert list(pending) == [refused]
    assert pending[refused] < first_cursor  # it keeps the dateRef it failed at
    truth, live = served(sim), await mirrored(database)
    differing = {key for key, payload in truth.items() if live.get(key) != payload}
    assert differing and differing <= lecture_keys(sim, refused)  # only the refused EG lags behind

    sim.faults.clear()
    await engine.poll()  # the pending establishment is read again, whatever TR-Notif says now
    assert (await runs(database))[-1].status == "ok"
    assert orjson.loads((await cursors(database))["notif:pending"]) == {}
    assert {key: payload for key, payload in (await mirrored(database)).items() if key in truth} == truth


async def test_a_notif_fault_fails_the_run_and_leaves_the_cursor(
    sim: Simulator, database: Database, make_engine: EngineFactory, clock: FakeClock
) -> None:
    engine = make_engine()
    await engine.prepare()
    await engine.initial_load()
    before = await cursors(database)
    sim.faults.inject(kind="csd_error", form="fault", match="TR-Notif")
    with pytest.raises(CsdServiceError, match="444"):
        await engine.poll()
    last = (await runs(database))[-1]
    assert (last.kind, last.status) == ("delta", "failed")
    assert "CsdServiceError" in last.error and "444" in last.error and "Non prévu" in last.error
    assert await cursors(database) == before


@pytest.mark.parametrize(
    ("fault", "outcome"),
    [
        ({"kind": "status", "status": 503, "count": 2}, "ok"),
        ({"kind": "status", "status": 502, "count": 50}, "failed"),
        ({"kind": "reset", "count": 2}, "ok"),
        ({"kind": "truncate", "count": 50}, "failed"),
        ({"kind": "hang", "count": 50, "max_hang": 3}, "failed"),
        ({"kind": "malformed", "count": 1, "match": "TR_Lecture"}, "partial"),
    ],
    ids=lambda value: f"{value['kind']}-{value.get('count')}" if isinstance(value, dict) else str(value),
)
async def test_transport_faults_leave_the_mirror_consistent_and_the_cursor_in_place(
    sim: Simulator,
    database: Database,
    make_engine: EngineFactory,
    clock: FakeClock,
    fault: dict[str, Any],
    outcome: str,
) -> None:
    engine = make_engine()
    await engine.prepare()
    await engine.initial_load()
    clock.advance(60)
    sim.apply_changes(10, "update")
    before = await cursors(database)
    sim.faults.inject(path="/CSD_ROR_Binding", **fault)
    if outcome == "failed":
        with pytest.raises((RetriesExhausted, CsdResponseError)):
            await engine.poll()
        assert await cursors(database) == before
    else:
        await engine.poll()
    sim.faults.clear()
    last = (await runs(database))[-1]
    assert (last.kind, last.status) == ("delta", outcome)
    if outcome != "ok":
        assert last.error
    await engine.poll()  # a clean cycle converges: nothing half-written, nothing lost
    truth = served(sim)
    assert {key: payload for key, payload in (await mirrored(database)).items() if key in truth} == truth


async def test_a_corrupted_extraction_is_rejected_without_touching_the_mirror(
    sim: Simulator, database: Database, make_engine: EngineFactory, tmp_path: Path
) -> None:
    engine = make_engine()
    await engine.prepare()
    sim.faults.inject(kind="corrupt_digest", count=1)
    with pytest.raises(ExtractionError, match="SHA-256"):
        await engine.initial_load()
    assert await mirrored(database) == {}
    assert await cursors(database) == {}
    last = (await runs(database))[-1]
    assert (last.kind, last.status) == ("full", "failed") and "SHA-256" in last.error
    assert not (tmp_path / "state" / "csd-extraction").exists(), "the download is removed"

    await engine.initial_load()
    loaded = await mirrored(database)
    sim.apply_changes(5, "delete")
    sim.faults.inject(kind="corrupt_digest", count=1)
    with pytest.raises(ExtractionError):
        await engine.reconcile()  # a reconcile on a bad file sweeps nothing
    assert await mirrored(database) == loaded
    assert await mirrored(database, tombstoned=True) == {}


def test_the_recheck_rotation_covers_every_establishment_in_turn() -> None:
    establishments = ["a", "b", "c", "d", "e"]
    assert recheck_share(establishments, None, 2) == ["a", "b"]
    assert recheck_share(establishments, "b", 2) == ["c", "d"]
    assert recheck_share(establishments, "d", 2) == ["e", "a"]
    assert recheck_share(establishments, "bb", 1) == ["c"]  # the one it stopped after has gone
    assert recheck_share(establishments, "z", 9) == establishments
    assert recheck_share([], None, 3) == recheck_share(establishments, None, 0) == []


async def test_rechecks_share_the_establishments_over_full_read_every(
    sim: Simulator, database: Database, make_engine: EngineFactory
) -> None:
    engine = make_engine(full_read_every=dt.timedelta(hours=3))  # csd_recheck is 1 h: a third each time
    await engine.prepare()
    await engine.initial_load()
    for _ in range(3):
        await engine.recheck()
    counts = [orjson.loads(r.counts)["establishments"] for r in await runs(database) if r.kind == "recheck"]
    async with database.read() as conn:
        establishments = await establishment_ids(conn, Source.CSD)
    assert sum(counts) == len(establishments) and max(counts) - min(counts) <= 1
    assert orjson.loads((await cursors(database))["recheck"]) == {"after": establishments[-1]}


async def test_targeted_resync_of_an_establishment_a_legal_entity_and_an_internal_organisation(
    sim: Simulator, database: Database, make_engine: EngineFactory, clock: FakeClock
) -> None:
    engine = make_engine()
    await engine.prepare()
    await engine.initial_load()
    clock.advance(60)
    changes = sim.apply_changes(10, "update")
    truth = served(sim)
    assert {key: payload for key, payload in (await mirrored(database)).items() if key in truth} != truth
    for change in changes:  # every establishment touched, by its idNatStruct: no TR-Notif involved
        await engine.resync(ResyncRequest(organization=changed_establishment(sim, [change])))
    assert {key: payload for key, payload in (await mirrored(database)).items() if key in truth} == truth
    async with database.read() as conn:
        legal_entity = (
            await conn.execute(
                select(schema.organization.c.finess).where(
                    schema.organization.c.kind == "EJ", schema.organization.c.finess.is_not(None)
                )
            )
        ).scalar()
    internal = next(key[1] for key in truth if key[0] == "organization" and "/" in key[1])
    await engine.resync(ResyncRequest(organization=legal_entity))  # by FINESS: each of its EGs
    await engine.resync(ResyncRequest(resource=internal))
    await engine.resync(ResyncRequest(organization="1999999999"))  # no such establishment: error 444
    resyncs = [r for r in await runs(database) if r.kind == "resync"]
    assert [r.status for r in resyncs[-3:]] == ["ok", "ok", "partial"]
    assert orjson.loads(resyncs[-3].counts)["organizations"] >= 1
    assert "1999999999" in resyncs[-1].error and "444" in resyncs[-1].error


async def test_mutual_tls_with_the_simulators_certificates(
    world_copy: Path, database: Database, tmp_path: Path
) -> None:
    async with Simulator(world_path=world_copy, tls=True, tls_dir=tmp_path / "pki") as sim:
        engine = CsdEngine(csd_settings(sim, tmp_path / "state", profile=2), database)
        await engine.prepare()
        await engine.initial_load()
        await engine.poll()
        assert await mirrored(database) == served(sim, profile=2)
        await engine.aclose()
        sim.faults.inject(kind="tls_wrong_ca")
        refused = CsdEngine(csd_settings(sim, tmp_path / "state", profile=2), database)
        await refused.prepare()
        with pytest.raises((TlsError, RetriesExhausted), match="certificate"):
            await refused.poll()
        await refused.aclose()


async def test_the_vihf_header_goes_with_every_request_when_configured(
    world_copy: Path, database: Database, tmp_path: Path
) -> None:
    async with Simulator(world_path=world_copy, tls=True, tls_dir=tmp_path / "pki") as sim:
        vihf = VihfSettings(enabled=True, subject_id="18751275100020/26")
        settings = csd_settings(sim, tmp_path / "state", extraction=False, vihf=vihf)
        header = vihf_settings(settings.csd)
        assert header is not None and "CN=rorsync-sim-p1" in header.issuer  # from the client certificate
        assert header.user_profile_code == "CU22"  # profile 1
        engine = CsdEngine(settings, database)
        await engine.prepare()
        try:
            await engine.initial_load()  # the simulator accepts the header
            # A fault keyed on the assertion's content proves it reached the server.
            sim.faults.inject(kind="csd_error", form="fault", match="VIHF_Version")
            with pytest.raises(CsdServiceError):
                await engine.poll()
        finally:
            await engine.aclose()
