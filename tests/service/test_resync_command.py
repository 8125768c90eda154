"""``rorsync resync``: through a live daemon, or in the foreground with a meaningful exit status."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rorsync.cli import main
from rorsync.config import Settings
from rorsync.model import Source
from rorsync.service import engines as registry
from rorsync.store.engine import Database
from rorsync.store.instances import DAEMON, Instance, beat, this_process
from rorsync.store.requests import StoredRequest, get_request
from rorsync.sync.writer import utcnow
from tests.service.conftest import Register, config_data, make_daemon, running, runs, to_toml, upgraded_sqlite
from tests.service.fakes import FakeEngine

Shape = Callable[[FakeEngine], None]


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    url = upgraded_sqlite(tmp_path / "mirror.sqlite")
    path = tmp_path / "rorsync.toml"
    path.write_text(to_toml(config_data(url, tmp_path)))
    monkeypatch.setattr(registry, "ENGINE_FACTORIES", dict(registry.ENGINE_FACTORIES))
    return path


def fake_engines(shape: Shape) -> None:
    """Engines built by the command itself (it opens its own database), shaped by the test."""

    def build(settings: Settings, db: Database) -> FakeEngine:
        engine = FakeEngine(settings, db)
        shape(engine)
        return engine

    registry.register_engine(Source.FHIR, build)


def resync(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), "resync", *args], catch_exceptions=False)


def stored_request(config: Path, request_id: int = 1) -> StoredRequest:
    async def read() -> StoredRequest | None:
        db = Database(f"sqlite:///{config.parent / 'mirror.sqlite'}")
        try:
            return await get_request(db, request_id)
        finally:
            await db.close()

    stored = asyncio.run(read())
    assert stored is not None
    return stored


@pytest.mark.parametrize(
    ("shape", "exit_status", "status"),
    [
        ({}, 0, "ok"),
        ({"partial": True}, 4, "partial"),
        ({"fail": True}, 1, "failed"),
    ],
)
def test_without_a_daemon_the_resync_runs_here_with_a_meaningful_status(
    config: Path, shape: dict[str, bool], exit_status: int, status: str
) -> None:
    def behave(engine: FakeEngine) -> None:
        for key, value in shape.items():
            setattr(engine.behaviour["resync"], key, value)

    fake_engines(behave)
    result = resync(config, "--source", "fhir")
    assert result.exit_code == exit_status, result.output
    assert "no rorsync daemon is running" in result.output
    request = stored_request(config)
    assert (request.status, request.picked_by, request.done_at is not None) == (
        status,
        this_process("foreground", utcnow()).instance,
        True,
    )


def test_usage_and_configuration_errors_exit_with_status_2(config: Path) -> None:
    fake_engines(lambda engine: None)
    assert resync(config, "--resource", "Location/1").exit_code == 2
    assert resync(config, "--full", "--organization", "750000001").exit_code == 2
    not_enabled = resync(config, "--source", "csd")
    assert not_enabled.exit_code == 2
    assert "the csd source is not enabled in the configuration" in not_enabled.output


def test_with_a_live_daemon_the_request_is_queued(config: Path) -> None:
    async def pretend_a_daemon_runs() -> None:
        db = Database(f"sqlite:///{config.parent / 'mirror.sqlite'}")
        elsewhere = Instance("daemon:elsewhere:1", DAEMON, "elsewhere", 1, "0.1.0", utcnow(), utcnow())
        await beat(db, elsewhere, now=utcnow())
        await db.close()

    asyncio.run(pretend_a_daemon_runs())
    result = resync(config, "--no-wait", "--full")
    assert result.exit_code == 0 and "queued for the daemon (daemon:elsewhere:1)" in result.output
    request = stored_request(config)
    assert (request.status, request.full) == ("pending", True)


@pytest.mark.parametrize(("fail", "exit_status"), [(False, 0), (True, 1)])
async def test_waiting_for_the_daemon_reports_its_outcome(
    settings: Settings,
    mirror: Database,
    engines: Register,
    *,
    db_url: str,
    tmp_path: Path,
    fail: bool,
    exit_status: int,
) -> None:
    engine = engines(FakeEngine(settings, mirror))
    engine.behaviour["resync"].fail = fail
    config = tmp_path / "rorsync.toml"
    config.write_text(to_toml(config_data(db_url, tmp_path)))
    async with running(make_daemon(settings, mirror)):
        result = await asyncio.to_thread(resync, config, "--organization", "750000001")
    assert result.exit_code == exit_status, result.output
    assert "waiting for the daemon" in result.output
    assert ("resync", "failed" if fail else "ok") in await runs(mirror)
