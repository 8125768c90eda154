"""``rorsync resync``: ask for a resync now, through the running daemon or in the foreground.

The request is always recorded in the database (``resync_request``). When a daemon is alive (its
heartbeat is fresh) it serves the request, merged with any equivalent work; otherwise, or when the
daemon dies while the command waits, this process claims the request and runs it itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass

import click

from rorsync.cli.common import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, run_async, settings_of, with_database
from rorsync.cli.progress import TerminalProgress
from rorsync.config import ConfigError, Settings
from rorsync.logs import configure_logging
from rorsync.service.engines import enabled_sources
from rorsync.service.foreground import resync_in_foreground
from rorsync.store.engine import Database
from rorsync.store.instances import DAEMON, FOREGROUND, Instance, live_daemons, this_process
from rorsync.store.migrate import require_current_schema
from rorsync.store.requests import RUNNING, StoredRequest, add_request, finish_requests, get_request, take_over_request
from rorsync.store.state import RunStatus
from rorsync.sync.writer import utcnow

WAIT_POLL_SECONDS = 1.0
_EXIT_STATUS = {RunStatus.OK: EXIT_OK, RunStatus.PARTIAL: EXIT_PARTIAL}


@dataclass(frozen=True, slots=True)
class Wanted:
    source: str | None
    full: bool
    organization: str | None
    resource: str | None


@click.command()
@click.option("--full", is_flag=True, help="Reload everything and tombstone what disappeared (a reconcile, now).")
@click.option("--source", type=click.Choice(["fhir", "csd"]), help="Only this source (default: every enabled one).")
@click.option("--organization", metavar="ID", help="Only this organization and its sites (FINESS, idNatStruct, OI).")
@click.option("--resource", metavar="REF", help="Only this resource (Location/123, an EG or OI id); needs --source.")
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait for the daemon to finish the request and report its outcome.",
)
@click.pass_context
def resync(
    ctx: click.Context, *, full: bool, source: str | None, organization: str | None, resource: str | None, wait: bool
) -> None:
    """Resync now, through the running daemon or in the foreground.

    Without options: an immediate delta cycle of every enabled source. A running daemon serves
    the request (merging it with equivalent work already running); without one, the resync runs
    here. Exit status: 0 ok, 1 failed,
    4 finished with some objects failing, 2 usage or configuration, 3 schema not current.
    """
    if sum((full, organization is not None, resource is not None)) > 1:
        raise click.UsageError("--full, --organization and --resource are alternatives: give at most one")
    if resource is not None and source is None:
        raise click.UsageError("--resource names a resource of one source: add --source")
    settings = settings_of(ctx)
    configure_logging(settings.logging)
    ctx.exit(run_async(_resync(settings, Wanted(source, full, organization, resource), wait)))


@with_database
async def _resync(db: Database, settings: Settings, wanted: Wanted, wait: bool) -> int:
    await require_current_schema(db)
    enabled = [source.value for source in enabled_sources(settings)]
    if not enabled:
        raise ConfigError("no source is enabled in the configuration: nothing to resync")
    if wanted.source is not None and wanted.source not in enabled:
        raise ConfigError(f"--source {wanted.source}: the {wanted.source} source is not enabled in the configuration")
    request_id = await add_request(
        db,
        source=wanted.source,
        full=wanted.full,
        organization=wanted.organization,
        resource=wanted.resource,
        now=utcnow(),
    )
    me = this_process(FOREGROUND, utcnow()).instance
    announced = False
    while True:
        stored = await get_request(db, request_id)
        assert stored is not None  # nobody deletes requests
        if stored.finished:
            return _report(stored.id, stored.status, stored.error, "the daemon")
        daemons = await live_daemons(db, now=utcnow())
        if not daemons and await _take_over(db, stored, me):
            return await _in_foreground(db, settings, stored)
        if daemons and not announced:
            announced = True
            _wake(daemons)
            if not wait:
                click.echo(f"resync request #{request_id} queued for the daemon ({daemons[0].instance})")
                return EXIT_OK
            click.echo(f"resync request #{request_id}: waiting for the daemon ({daemons[0].instance})…", err=True)
        await asyncio.sleep(WAIT_POLL_SECONDS)


async def _take_over(db: Database, stored: StoredRequest, me: str) -> bool:
    """Claim a request no live daemon will serve (pending, or left running by a dead daemon)."""
    owner = stored.picked_by or ""
    abandoned = owner if stored.status == RUNNING and owner.startswith(f"{DAEMON}:") else ""
    return await take_over_request(db, stored.id, by=me, abandoned_by=abandoned, now=utcnow())


async def _in_foreground(db: Database, settings: Settings, stored: StoredRequest) -> int:
    click.echo(f"no rorsync daemon is running: resync request #{stored.id} runs here", err=True)
    status: str = RunStatus.INTERRUPTED
    error: str | None = "the command was interrupted"
    try:
        with contextlib.ExitStack() as stack:
            progress = None
            if sys.stderr.isatty():
                progress = stack.enter_context(TerminalProgress()).for_lane
            outcome = await resync_in_foreground(settings, db, stored, progress=progress)
        status, error = outcome.status, outcome.error
    except ConfigError as unusable:  # a source disabled, or without an engine in this installation
        status, error = RunStatus.FAILED, str(unusable)
        raise
    finally:
        await asyncio.shield(finish_requests(db, [stored.id], status=status, error=error, now=utcnow()))
    return _report(stored.id, status, error, "this command")


def _report(request_id: int, status: str, error: str | None, served_by: str) -> int:
    message = f"resync request #{request_id} ({served_by}): {status}"
    click.echo(f"{message}: {error}" if error else message, err=status != RunStatus.OK)
    return _EXIT_STATUS.get(status, EXIT_FAILED)


def _wake(daemons: list[Instance]) -> None:
    """Let local daemons look at the queue at once instead of at their next poll."""
    for daemon in daemons:
        if daemon.local:
            with contextlib.suppress(OSError):
                os.kill(daemon.pid, signal.SIGUSR1)
