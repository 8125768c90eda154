"""``rorsync import-public``: load the weekly public XML extraction (profile 0) into the mirror."""

from __future__ import annotations

import logging

import click

from rorsync.cli.common import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, fail, run_async, settings_of, with_database
from rorsync.cli.progress import progress_for_terminal
from rorsync.config import Settings
from rorsync.logs import configure_logging
from rorsync.metrics import MetricsObserver
from rorsync.store.engine import Database
from rorsync.store.migrate import require_current_schema
from rorsync.sync.public import import_public
from rorsync.sync.runs import describe_error

log = logging.getLogger("rorsync.import")


@click.command("import-public")
@click.argument("source", required=False, metavar="FILE_OR_URL")
@click.pass_context
def import_public_command(ctx: click.Context, source: str | None) -> None:
    """Import the weekly public ROR extraction (CSD XML, profile 0) from FILE_OR_URL.

    FILE_OR_URL is a ZIP of XML parts with SHA-256 sidecars (checked before anything is read) or a
    bare XML file, on disk or at an https URL; default: public_xml.source of the configuration. The
    rows of the public_xml source that the file no longer holds are tombstoned.

    Exit status: 0 ok, 1 failed (nothing of a rejected file is written), 2 usage or configuration,
    3 schema not current.
    """
    settings = settings_of(ctx)
    configure_logging(settings.logging)
    chosen = source or settings.public_xml.source
    if not chosen:
        fail("give FILE_OR_URL, or set public_xml.source in the configuration", EXIT_CONFIG)
    ctx.exit(run_async(_import(settings, chosen)))


@with_database
async def _import(db: Database, settings: Settings, source: str) -> int:
    await require_current_schema(db)
    progress = progress_for_terminal(log)
    try:
        await import_public(settings, db, source, progress=progress, observer=MetricsObserver())
    except Exception as error:  # journaled by import_public; the operator gets its words
        fail(f"import of {source} failed: {describe_error(error)}", EXIT_FAILED)
    finally:
        progress.finish()
    return EXIT_OK
