"""``rorsync sync``: one sync cycle of one source, in the foreground, with progress.

For a first load, a hand-run reconcile or a cron job, without a daemon. The cycle is the initial
load when the mirror holds nothing complete from the source yet (or with ``--full``: a complete
load that also tombstones what disappeared), otherwise the source's deltas. Every run is journaled
as the daemon's are, so ``rorsync status`` tells the same story.
"""

from __future__ import annotations

import logging

import click

from rorsync.cli.common import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, fail, run_async, settings_of, with_database
from rorsync.cli.progress import progress_for_terminal
from rorsync.config import ConfigError, Settings
from rorsync.logs import configure_logging
from rorsync.model import Source
from rorsync.service.engines import build_engines, enabled_sources
from rorsync.store.engine import Database
from rorsync.store.migrate import require_current_schema
from rorsync.store.state import RunStatus
from rorsync.sync.engine import ResyncRequest
from rorsync.sync.runs import describe_error, observe_runs

log = logging.getLogger("rorsync.sync")


@click.command()
@click.option("--source", type=click.Choice([Source.FHIR.value, Source.CSD.value]), required=True)
@click.option("--full", is_flag=True, help="A complete load that also tombstones what the source no longer has.")
@click.pass_context
def sync(ctx: click.Context, source: str, full: bool) -> None:
    """Run one sync cycle of SOURCE now, in the foreground.

    Exit status: 0 ok, 1 failed, 4 finished with some objects failing (see `rorsync status`),
    2 usage or configuration, 3 schema not current.
    """
    settings = settings_of(ctx)
    configure_logging(settings.logging)
    ctx.exit(run_async(_sync(settings, Source(source), full)))


@with_database
async def _sync(db: Database, settings: Settings, source: Source, full: bool) -> int:
    await require_current_schema(db)
    if source not in enabled_sources(settings):
        raise ConfigError(f"the {source.value} source is not enabled: set [{source.value}] enabled = true")
    [engine] = build_engines(settings, db, [source])
    progress = progress_for_terminal(log)
    with observe_runs() as outcomes:
        try:
            await engine.prepare()
            if not full and await engine.initial_load_needed():
                await engine.initial_load(progress)
            else:
                await engine.resync(ResyncRequest(full=full), progress)
        except Exception as error:  # already journaled by the engine; the operator gets its words
            fail(f"{source.value} sync failed: {describe_error(error)}", EXIT_FAILED)
        finally:
            progress.finish()
            await engine.aclose()
    if any(outcome.status == RunStatus.PARTIAL for outcome in outcomes):
        click.echo(f"{source.value} sync finished, but some objects failed: see `rorsync status`", err=True)
        return EXIT_PARTIAL
    return EXIT_OK
