"""``rorsync db``: create and migrate the mirror's schema, its nomenclatures and its policy views."""

from __future__ import annotations

import click

from rorsync.cli.common import run_async, settings_of, with_database
from rorsync.config import Settings
from rorsync.mirror import UpgradeReport, upgrade_mirror
from rorsync.store import migrate
from rorsync.store.engine import Database


@click.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target schema revision.")
@click.pass_context
def upgrade(ctx: click.Context, revision: str) -> None:
    """Create or migrate the schema, seed the packaged code labels and (re)build the policy views
    for the configured [policy] (safe to run at every start; concurrent runs queue)."""
    settings = settings_of(ctx)
    report = run_async(_upgrade(settings, revision))
    if report.before == report.after:
        click.echo(f"schema already at revision {report.after}")
    else:
        click.echo(f"schema upgraded from {report.before or 'empty'} to {report.after}")
    if report.seeded:
        click.echo(f"code labels: {len(report.seeded)} NOS tables loaded from the package")
    if report.views_rebuilt is not None:
        state = "rebuilt" if report.views_rebuilt else "already current"
        click.echo(f"policy views {state} (feed profile {settings.feed_profile})")


@with_database
async def _upgrade(db: Database, settings: Settings, revision: str) -> UpgradeReport:
    return await upgrade_mirror(db, settings, revision)


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
