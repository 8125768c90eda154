"""``rorsync config check``: validate the configuration and show it, secrets hidden."""

from __future__ import annotations

import click
import orjson

from rorsync.cli.common import settings_of
from rorsync.config import redacted


@click.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the effective configuration as JSON.")
@click.pass_context
def check(ctx: click.Context, as_json: bool) -> None:
    """Validate the configuration file and environment; print the effective values (secrets as ***)."""
    settings = settings_of(ctx)
    effective = redacted(settings)
    if as_json:
        click.echo(orjson.dumps(effective, option=orjson.OPT_INDENT_2).decode())
        return
    click.echo("configuration is valid")
    click.echo(f"database: {settings.database_url}")
    for section in ("fhir", "csd"):
        enabled = effective[section]["enabled"]
        click.echo(f"{section}: {'enabled' if enabled else 'disabled'}")
    click.echo(f"policy: feed profile {settings.feed_profile}")
    click.echo("(use --json for every value)")
