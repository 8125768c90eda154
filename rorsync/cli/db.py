"""``rorsync db``: create and migrate the mirror's schema."""

from __future__ import annotations

import click

from rorsync.cli.common import run_async, settings_of, with_database
from rorsync.config import Settings
from rorsync.store import migrate
from rorsync.store.engine import Database


@click.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target schema revision.")
@click.pass_context
def upgrade(ctx: click.Context, revision: str) -> None:
    """Create or migrate the schema (safe to run at every start; concurrent runs queue)."""
    before, after = run_async(_upgrade(settings_of(ctx), revision))
    if before == after:
        click.echo(f"schema already at revision {after}")
    else:
        click.echo(f"schema upgraded from {before or 'empty'} to {after}")


@with_database
async def _upgrade(db: Database, settings: Settings, revision: str) -> tuple[str | None, str | None]:
    return await migrate.upgrade(db, revision)


@db.command("downgrade")
@click.argument("revision")
@click.confirmation_option(prompt="Downgrading drops tables and their data. Continue?")
@click.pass_context
def downgrade(ctx: click.Context, revision: str) -> None:
    """Migrate the schema down to REVISION ("base" removes everything rorsync created)."""
    before, after = run_async(_downgrade(settings_of(ctx), revision))
    click.echo(f"schema downgraded from {before} to {after or 'empty'}")


@with_database
async def _downgrade(db: Database, settings: Settings, revision: str) -> tuple[str | None, str | None]:
    return await migrate.downgrade(db, revision)
