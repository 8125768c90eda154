"""Helpers for the service tests: settings with short intervals, fake engines, a running daemon."""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from rorsync.config import Settings
from rorsync.model import Source
from rorsync.service import engines as registry
from rorsync.service.daemon import Daemon, Timings
from rorsync.service.notify import Notifier
from rorsync.store import migrate, schema
from rorsync.store.engine import Database
from tests.service.fakes import FakeEngine

FAST = Timings(
    request_poll=0.05,
    heartbeat=dt.timedelta(seconds=0.2),
    heartbeat_ttl=dt.timedelta(seconds=2),
    retry_initial=0.05,
    retry_max=0.2,
    stop_grace=3.0,
    freshness_cache=0.0,
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def config_data(db_url: str, state_dir: Path, **sections: dict[str, Any]) -> dict[str, Any]:
    """A configuration with the FHIR source on (its engine is a fake) and short intervals."""
    data: dict[str, Any] = {
        "state_dir": str(state_dir),
        "database": {"url": db_url},
        "fhir": {"enabled": True, "client_id": "test", "token_url": "http://127.0.0.1:9/token"},
        "csd": {"enabled": False, "endpoint": "http://127.0.0.1:9/csd"},
        "schedule": {"fhir_delta": "50ms", "csd_notif": "50ms", "run_timeout": "5s", "full_load_timeout": "30s"},
        "service": {"listen": f"127.0.0.1:{free_port()}", "stale_after": "30m", "resync_debounce": "50ms"},
        "logging": {"format": "text", "level": "INFO"},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return data


def to_toml(data: dict[str, Any]) -> str:
    def value(item: Any) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, int | float):
            return str(item)
        return '"' + str(item).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"{key} = {value(item)}" for key, item in data.items() if not isinstance(item, dict)]
    for key, item in data.items():
        if isinstance(item, dict):
            lines += ["", f"[{key}]", *(f"{k} = {value(v)}" for k, v in item.items())]
    return "\n".join(lines) + "\n"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only here: the service logic is the same on PostgreSQL, which the store tests cover."""
    return f"sqlite:///{tmp_path / 'mirror.sqlite'}"


@pytest.fixture
def db_url(database_url: str) -> str:
    return database_url


@pytest.fixture
def mirror(database: Database) -> Database:
    """The upgraded mirror the daemon under test writes to."""
    return database


def upgraded_sqlite(path: Path) -> str:
    """Create and migrate a SQLite mirror outside any event loop (for commands and child processes)."""
    url = f"sqlite:///{path}"

    async def upgrade() -> None:
        db = Database(url)
        try:
            await migrate.upgrade(db)
        finally:
            await db.close()

    asyncio.run(upgrade())
    return url


Configure = Callable[..., Settings]


@pytest.fixture
def configure(mirror: Database, db_url: str, tmp_path: Path) -> Configure:
    """Settings for the test mirror, with some sections changed: ``configure(csd={"enabled": True})``."""

    def build(**sections: dict[str, Any]) -> Settings:
        return Settings(**config_data(db_url, tmp_path, **sections))

    return build


@pytest.fixture
def settings(configure: Configure) -> Settings:
    return configure()


Register = Callable[[FakeEngine], FakeEngine]


@pytest.fixture
def engines(monkeypatch: pytest.MonkeyPatch) -> Register:
    """Register fake engines through the service's seam (restored after the test)."""
    monkeypatch.setattr(registry, "ENGINE_FACTORIES", dict(registry.ENGINE_FACTORIES))

    def register(engine: FakeEngine) -> FakeEngine:
        registry.register_engine(engine.source, lambda settings, db: engine)
        return engine

    return register


@asynccontextmanager
async def running(daemon: Daemon) -> AsyncIterator[asyncio.Task[int]]:
    task = asyncio.create_task(daemon.run())
    await asyncio.wait([task, asyncio.ensure_future(daemon.started.wait())], return_when=asyncio.FIRST_COMPLETED)
    try:
        yield task
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 10)


def make_daemon(settings: Settings, db: Database, **kwargs: Any) -> Daemon:
    kwargs.setdefault("timings", FAST)
    kwargs.setdefault("notifier", Notifier(""))
    return Daemon(settings, db, **kwargs)


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]], within: float = 5.0, what: str = "condition"
) -> None:
    """Wait until ``condition`` holds (polling), failing the test after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def runs(db: Database, source: Source | None = None) -> list[tuple[str, str]]:
    """(kind, status) of every journaled run, oldest first."""
    table = schema.sync_run
    query = select(table.c.kind, table.c.status).order_by(table.c.id)
    if source is not None:
        query = query.where(table.c.source == source.value)
    async with db.read() as conn:
        return [(kind, status) for kind, status in await conn.execute(query)]
