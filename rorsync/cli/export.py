"""``rorsync export``: hand one access profile's data to another tool as JSON Lines or CSV."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rorsync.cli.common import EXIT_CONFIG, EXIT_SCHEMA, fail, run_async, settings_of, with_database
from rorsync.config import Settings
from rorsync.policy.catalog import VIEW_KINDS
from rorsync.policy.export import ExportedView, ExportFormat, export_view, export_views
from rorsync.policy.profiles import AccessDeniedError, resolve_profile
from rorsync.policy.views import views_current
from rorsync.store.engine import Database
from rorsync.store.migrate import require_current_schema


@click.command()
@click.option("--profile", type=click.IntRange(0, 5), help="Access profile 0-5 whose views are exported.")
@click.option("--cu", "cu_code", help="Or an end-user profile code (e.g. CU22), mapped by [policy].cu_profiles.")
@click.option("--format", "fmt", type=click.Choice([f.value for f in ExportFormat]), required=True)
@click.option("--view", "kinds", multiple=True, type=click.Choice(VIEW_KINDS), help="View(s) to export (default: all).")
@click.option(
    "--output",
    default="-",
    show_default=True,
    help="Directory receiving p<N>_<view>.<format> files, or - for standard output (one --view).",
)
@click.pass_context
def export(
    ctx: click.Context, *, profile: int | None, cu_code: str | None, fmt: str, kinds: tuple[str, ...], output: str
) -> None:
    """Write a profile's views (exactly what a database role of that profile would read).

    Rows are streamed; CSV has a header line, JSON Lines one object per row; instants are ISO 8601
    in UTC. Files appear only once every requested view is written.
    """
    settings = settings_of(ctx)
    if (profile is None) == (cu_code is None):
        fail("give exactly one of --profile and --cu", EXIT_CONFIG)
    if profile is None:
        try:
            profile = resolve_profile(cu_code, settings)
        except AccessDeniedError as error:
            fail(str(error), EXIT_CONFIG)
    selected = list(kinds or VIEW_KINDS)
    if output == "-" and len(selected) != 1:
        fail("standard output takes one view: name it with --view, or give --output DIR", EXIT_CONFIG)
    directory = None if output == "-" else Path(output)
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    exports = _export(settings, profile=profile, kinds=selected, fmt=ExportFormat(fmt), directory=directory)
    for exported in run_async(exports):
        click.echo(
            f"{exported.name}: {exported.rows} rows" + (f" → {exported.path}" if exported.path else ""), err=True
        )


@with_database
async def _export(
    db: Database, settings: Settings, *, profile: int, kinds: list[str], fmt: ExportFormat, directory: Path | None
) -> list[ExportedView]:
    await require_current_schema(db)
    if not await views_current(db, settings):
        fail("the policy views were built with other [policy] settings: run `rorsync db upgrade`", EXIT_SCHEMA)
    if directory is None:
        return [await export_view(db, profile, kinds[0], fmt, sys.stdout.buffer)]
    return await export_views(db, profile, kinds, fmt, directory)
