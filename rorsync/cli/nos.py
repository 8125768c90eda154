"""``rorsync nos``: load the public NOS nomenclatures that give the codes their labels."""

from __future__ import annotations

from pathlib import Path

import click

from rorsync.cli.common import EXIT_FAILED, fail, run_async, settings_of, with_database
from rorsync.codes.tabs import NosFormatError
from rorsync.config import Settings
from rorsync.store.engine import Database
from rorsync.store.migrate import require_current_schema
from rorsync.store.nomenclature import (
    TableChange,
    TableContent,
    import_tables,
    older_than_package,
    read_nos_file,
)


@click.group()
def nos() -> None:
    """NOS nomenclatures (labels of the codes shown by the views)."""


@nos.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def import_(ctx: click.Context, file: Path) -> None:
    """Load or replace the code tables of FILE (the published NOS ZIP, or one .tabs file).

    Everything is parsed and checked first and written in one transaction: a bad file changes
    nothing (exit status 1, naming the file and line). Tables the package also carries are kept
    by later upgrades only if they are at least as new as the package.
    """
    try:
        tables = read_nos_file(file)
    except NosFormatError as error:
        fail(f"nothing imported: {error}", EXIT_FAILED)
    changes = run_async(_import(settings_of(ctx), tables))
    for change in changes:
        if change.changed:
            click.echo(_describe(change))
    older = older_than_package(tables)
    if older:
        click.echo(
            f"note: {len(older)} of these tables are older than the ones shipped with rorsync "
            f"({', '.join(older[:5])}{' …' if len(older) > 5 else ''}): "
            "`rorsync db upgrade` will put the packaged versions back",
            err=True,
        )
    new = sum(1 for change in changes if change.previous_origin is None)
    changed = sum(1 for change in changes if change.changed) - new
    click.echo(
        f"{file}: {len(changes)} tables loaded ({new} new, {changed} changed, {len(changes) - new - changed} unchanged)"
    )


def _describe(change: TableChange) -> str:
    if change.previous_origin is None:
        return f"{change.table_id} ({change.name}): new, {change.added} codes"
    return (
        f"{change.table_id} ({change.name}): {change.added} added, {change.removed} removed, "
        f"{change.relabelled} relabelled (was {change.previous_origin})"
    )


@with_database
async def _import(db: Database, settings: Settings, tables: list[TableContent]) -> list[TableChange]:
    await require_current_schema(db)
    return await import_tables(db, tables)
