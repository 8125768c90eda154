"""What every command shares: loading settings, opening the database, running coroutines, exit codes."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from rorsync.config import ConfigError, Settings, load_settings
from rorsync.store.engine import Database, DatabaseUrlError
from rorsync.store.migrate import SchemaOutdatedError

T = TypeVar("T")

# Exit statuses, documented in the README (systemd's unit does not restart on 2 and 3).
EXIT_OK = 0
EXIT_FAILED = 1  # a sync run failed; details in the run journal and the logs
EXIT_CONFIG = 2  # invalid configuration or usage
EXIT_SCHEMA = 3  # the database schema is missing or outdated: run `rorsync db upgrade`
EXIT_PARTIAL = 4  # the run finished, but some objects failed (recorded in the run journal)


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"rorsync: {message}", err=True)
    sys.exit(code)


def settings_of(ctx: click.Context) -> Settings:
    """The settings for this invocation, loaded once (``--config`` is read by the root group)."""
    root = ctx.find_root()
    if not isinstance(root.obj, dict):
        root.obj = {}
    if "settings" not in root.obj:
        config_path: Path | None = root.params.get("config")
        try:
            root.obj["settings"] = load_settings(config_path)
        except ConfigError as error:
            fail(str(error), EXIT_CONFIG)
    settings: Settings = root.obj["settings"]
    return settings


def open_database(settings: Settings) -> Database:
    try:
        return Database(
            settings.database_url, busy_timeout_ms=int(settings.database.busy_timeout.total_seconds() * 1000)
        )
    except DatabaseUrlError as error:
        fail(f"database.url: {error}", EXIT_CONFIG)


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine, turning the errors operators can act on into clear messages."""
    try:
        return asyncio.run(coroutine)
    except SchemaOutdatedError as error:
        fail(str(error), EXIT_SCHEMA)
    except ConfigError as error:
        fail(str(error), EXIT_CONFIG)
    except KeyboardInterrupt:
        fail("interrupted", 130)


def with_database(function: Callable[..., Awaitable[T]]) -> Callable[..., Coroutine[Any, Any, T]]:
    """Open the database for a command coroutine taking ``db`` first, and always close it."""

    @wraps(function)
    async def wrapper(settings: Settings, *args: Any, **kwargs: Any) -> T:
        db = open_database(settings)
        try:
            return await function(db, settings, *args, **kwargs)
        finally:
            await db.close()

    return wrapper
