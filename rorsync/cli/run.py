"""``rorsync run``: the sync daemon, as started by the systemd unit."""

from __future__ import annotations

from pathlib import Path

import click

from rorsync.cli.common import run_async, settings_of, with_database
from rorsync.config import Settings
from rorsync.logs import configure_logging
from rorsync.store.engine import Database


@click.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the sync daemon: initial loads, scheduled sync, resync requests, /healthz and /metrics.

    SIGTERM or Ctrl-C stops it cleanly, SIGHUP reloads the configuration, SIGUSR1 makes it look at
    the resync requests at once. Under systemd it speaks the notify protocol (Type=notify).
    """
    settings = settings_of(ctx)
    configure_logging(settings.logging)
    config_path: Path | None = ctx.find_root().params.get("config")
    ctx.exit(run_async(_run(settings, config_path)))


@with_database
async def _run(db: Database, settings: Settings, config_path: Path | None) -> int:
    from rorsync.service.daemon import Daemon  # noqa: PLC0415 (aiohttp and APScheduler cost ~0.5 s: not for --help)

    return await Daemon(settings, db, config_path=config_path).run()
