"""The daemon drives engines: initial load first, then jobs, one run per lane, failures isolated."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from rorsync.config import Settings, load_settings
from rorsync.model import Source
from rorsync.policy.views import views_current
from rorsync.store.engine import Database
from rorsync.store.status import collect_status
from rorsync.sync.writer import utcnow
from tests.service.conftest import (
    Configure,
    Register,
    config_data,
    eventually,
    make_daemon,
    running,
    runs,
    to_toml,
)
from tests.service.fakes import FakeEngine


async def test_initial_load_comes_first_then_jobs_never_overlap(
    settings: Settings, mirror: Database, engines: Register
) -> None:
    engine = engines(FakeEngine(settings, mirror, organizations=30, batch=10, batch_delay=0.05))
    engine.behaviour["delta"].seconds = 0.15  # longer than the 50 ms interval
    async with running(make_daemon(settings, mirror)):
        await eventually(lambda: engine.started["delta"] >= 4, what="four delta runs")
    assert engine.order[0] == "initial" and engine.started["initial"] == 1
    assert engine.most_at_once["delta"] == 1
    assert engine.prepared == 1 and engine.closed
    journal = await runs(mirror)
    assert journal[0] == ("full", "ok")
    assert {status for kind, status in journal if kind == "delta"} <= {"ok", "interrupted"}


def failing_lines(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "rorsync.service" and text in r.getMessage()]


async def test_a_failing_source_does_not_stop_another_and_is_logged_on_edges_only(
    configure: Configure, mirror: Database, engines: Register, caplog: pytest.LogCaptureFixture
) -> None:
    settings = configure(csd={"enabled": True})
    broken = engines(FakeEngine(settings, mirror, Source.FHIR))
    healthy = engines(FakeEngine(settings, mirror, Source.CSD))
    broken.behaviour["delta"].fail = True
    caplog.set_level(logging.INFO, logger="rorsync.service")
    daemon = make_daemon(settings, mirror)
    async with running(daemon):
        await eventually(lambda: broken.started["delta"] >= 5 and healthy.started["delta"] >= 5, what="runs")
        errors = failing_lines(caplog, "fhir:delta failing")
        assert len(errors) == 1 and errors[0].levelno == logging.ERROR
        assert "RuntimeError: fhir delta broke" in errors[0].getMessage()  # the journal's own text
        assert daemon._lanes["fhir:delta"].consecutive_failures >= 4
        broken.behaviour["delta"].fail = False
        await eventually(lambda: failing_lines(caplog, "fhir:delta recovered"), what="recovery")
        started = broken.started["delta"]
        await eventually(lambda: broken.started["delta"] >= started + 3, what="more runs after recovery")
    assert len(failing_lines(caplog, "recovered")) == 1
    assert len(failing_lines(caplog, "failing")) == 1
    assert not failing_lines(caplog, "csd:delta failing")
    journal = await runs(mirror, Source.FHIR)
    assert ("delta", "failed") in journal and journal[-1][1] in ("ok", "interrupted")


async def test_a_failing_initial_load_is_retried_without_holding_back_other_sources(
    configure: Configure, mirror: Database, engines: Register
) -> None:
    settings = configure(csd={"enabled": True})
    loading = engines(FakeEngine(settings, mirror, Source.FHIR, organizations=5))
    other = engines(FakeEngine(settings, mirror, Source.CSD))
    loading.behaviour["initial"].fail = True
    async with running(make_daemon(settings, mirror)):
        await eventually(lambda: loading.started["initial"] >= 3, what="initial load retries")
        assert other.started["delta"] >= 1 and loading.started["delta"] == 0
        loading.behaviour["initial"].fail = False
        await eventually(lambda: loading.started["delta"] >= 1, what="jobs after the initial load succeeded")
    assert loading.prepared == 1  # prepared once, not at every retry
    kinds = [kind for kind, _ in await runs(mirror, Source.FHIR)]
    assert kinds.index("delta") > max(i for i, kind in enumerate(kinds) if kind == "full")


async def test_a_hung_run_is_cancelled_by_its_timeout_and_journaled_interrupted(
    configure: Configure, mirror: Database, engines: Register, caplog: pytest.LogCaptureFixture
) -> None:
    settings = configure(schedule={"run_timeout": "200ms"})
    engine = engines(FakeEngine(settings, mirror))
    engine.behaviour["delta"].hang = True
    async with running(make_daemon(settings, mirror)):
        await eventually(lambda: engine.started["delta"] >= 2, what="a second run after the first timed out")
    journal = await runs(mirror)
    assert journal[0] == ("delta", "interrupted")
    assert engine.most_at_once["delta"] == 1
    assert "timed out after 0:00:00.200000" in failing_lines(caplog, "fhir:delta failing")[0].getMessage()


async def test_status_shows_the_daemon_alive_while_it_runs_and_gone_after_a_clean_stop(
    settings: Settings, mirror: Database, engines: Register
) -> None:
    engines(FakeEngine(settings, mirror))
    async with running(make_daemon(settings, mirror)):
        during = await collect_status(mirror)
    after = await collect_status(mirror)
    assert [(p.role, p.pid) for p in during.processes] == [("daemon", os.getpid())]
    assert during.processes[0].alive(utcnow())
    assert after.processes == []


async def test_a_reload_with_new_policy_settings_rebuilds_the_views(
    mirror: Database, db_url: str, tmp_path: Path, engines: Register
) -> None:
    path = tmp_path / "rorsync.toml"
    path.write_text(to_toml(config_data(db_url, tmp_path)))
    settings = load_settings(path)
    engines(FakeEngine(settings, mirror))
    daemon = make_daemon(settings, mirror, config_path=path)
    async with running(daemon):
        assert await views_current(mirror, settings)
        path.write_text(to_toml(config_data(db_url, tmp_path, policy={"p0_installed_capacity": True})))
        assert await daemon.reload()
        assert await views_current(mirror, load_settings(path))
        assert not await views_current(mirror, settings)
