"""Manual resync requests reach the daemon through the database and merge with equivalent work."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import select

from rorsync.config import Settings
from rorsync.store import schema
from rorsync.store.engine import Database
from rorsync.store.requests import add_request, get_request
from rorsync.sync.writer import utcnow
from tests import factories as f
from tests.service.conftest import Configure, Register, eventually, make_daemon, running
from tests.service.fakes import FakeEngine

REMOTE = {"o1": f.at(1), "o2": f.at(2), "o3": f.at(3)}


async def ask(db: Database, **options: object) -> int:
    values = {"source": None, "full": False, "organization": None, "resource": None, **options}
    return await add_request(db, now=utcnow(), **values)  # type: ignore[arg-type]


async def status_of(db: Database, request_id: int) -> str:
    stored = await get_request(db, request_id)
    assert stored is not None
    return stored.status


def served(db: Database, request_id: int, status: str = "ok") -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await status_of(db, request_id) == status

    return check


async def mirrored(db: Database) -> dict[str, object]:
    table = schema.organization
    async with db.read() as conn:
        rows = await conn.execute(select(table.c.resource_id, table.c.last_updated))
        return {row.resource_id: row.last_updated for row in rows}


async def test_a_request_during_a_poll_joins_the_running_poll(
    configure: Configure, mirror: Database, engines: Register
) -> None:
    settings = configure(schedule={"fhir_delta": "1h"})  # one poll, right after start-up
    engine = engines(FakeEngine(settings, mirror))
    engine.remote = dict(REMOTE)
    engine.behaviour["delta"].seconds = 1.0
    daemon = make_daemon(settings, mirror)
    async with running(daemon):
        await eventually(lambda: engine.running["delta"] == 1, what="the poll to start")
        request = await ask(mirror)
        daemon.wake_requests()
        await eventually(served(mirror, request), what="the request to be served")
    assert (engine.started["delta"], engine.started["resync"]) == (1, 0)  # served by the poll itself
    assert await mirrored(mirror) == REMOTE


async def test_a_poll_during_a_request_merges_into_the_request(
    configure: Configure, mirror: Database, engines: Register, caplog: pytest.LogCaptureFixture
) -> None:
    settings = configure(schedule={"fhir_delta": "1h"})  # one poll right after start-up, then on demand
    engine = engines(FakeEngine(settings, mirror))
    engine.remote = dict(REMOTE)
    engine.behaviour["resync"].seconds = 0.5
    caplog.set_level(logging.DEBUG, logger="rorsync.service")
    daemon = make_daemon(settings, mirror)
    async with running(daemon):
        await eventually(lambda: engine.started["delta"] == 1 and not engine.running["delta"], what="a first poll")
        request = await ask(mirror, source="fhir")
        daemon.wake_requests()
        await eventually(lambda: engine.running["resync"] == 1, what="the request to start")
        daemon.fire_now("fhir:delta")  # the poll's time comes while the request runs
        await eventually(served(mirror, request), what="the request to be served")
    skipped = [r for r in caplog.records if "fhir:delta skipped: fhir resync: delta is running" in r.getMessage()]
    assert skipped and (engine.started["delta"], engine.started["resync"]) == (1, 1)
    assert engine.most_at_once["changes"] == 1
    assert await mirrored(mirror) == REMOTE  # the same final state as the other order


async def test_requests_within_the_debounce_window_make_one_run(
    configure: Configure, mirror: Database, engines: Register
) -> None:
    settings = configure(schedule={"fhir_delta": "1h"}, service={"resync_debounce": "1s"})
    engine = engines(FakeEngine(settings, mirror))
    daemon = make_daemon(settings, mirror)
    async with running(daemon):
        await eventually(lambda: engine.started["delta"] == 1 and not engine.running["delta"], what="first poll")
        requests = [await ask(mirror) for _ in range(3)] + [await ask(mirror, organization="750000001")]
        daemon.wake_requests()
        await asyncio.sleep(0.2)
        assert engine.started["resync"] == 0  # still inside the window: nothing picked yet
        await eventually(lambda: all_done(mirror, requests), what="every request served")
    assert engine.started["resync"] == 2  # one delta for the three requests, one for the organization


async def all_done(db: Database, ids: list[int]) -> bool:
    return all([await status_of(db, i) == "ok" for i in ids])


async def test_a_request_for_a_source_the_daemon_does_not_run_is_refused(
    settings: Settings, mirror: Database, engines: Register
) -> None:
    engine = engines(FakeEngine(settings, mirror))
    daemon = make_daemon(settings, mirror)
    async with running(daemon):
        request = await ask(mirror, source="csd")
        daemon.wake_requests()
        await eventually(served(mirror, request, "failed"), what="the refusal")
    stored = await get_request(mirror, request)
    assert stored is not None and stored.error == "the csd source is not enabled in the daemon's configuration"
    assert engine.started["resync"] == 0
