"""``rorsync policy``: the configured access policy, and PostgreSQL roles per access profile."""

from __future__ import annotations

import click

from rorsync.cli.common import EXIT_CONFIG, fail, run_async, settings_of, with_database
from rorsync.config import Settings
from rorsync.policy.roles import SQLITE_BOUNDARY, RoleAccess, RoleError, grant_profile, list_access, revoke_role
from rorsync.policy.views import ViewsState, read_state, views_current
from rorsync.store.engine import Database
from rorsync.store.migrate import require_current_schema


@click.group()
def policy() -> None:
    """Access profiles: who reads which per-profile views (PostgreSQL roles)."""


@policy.command()
@click.argument("role")
@click.option("--profile", type=click.IntRange(0, 5), required=True, help="Access profile 0-5 the role reads.")
@click.option(
    "--login/--no-login",
    default=None,
    help="Let the role log in (default: NOLOGIN for a new role, unchanged for an existing one).",
)
@click.pass_context
def grant(ctx: click.Context, role: str, profile: int, login: bool | None) -> None:
    """Create or update ROLE so that it reads profile N's views and nothing else of rorsync.

    rorsync never sets passwords: give one with ALTER ROLE <role> PASSWORD '…' (or configure
    another authentication in pg_hba.conf), and --login to let the role connect.
    """
    created = run_async(_grant(settings_of(ctx), role, profile, login))
    click.echo(f"role {role} {'created' if created else 'updated'}: reads the p{profile}_* views only")


@with_database
async def _grant(db: Database, settings: Settings, role: str, profile: int, login: bool | None) -> bool:
    await require_current_schema(db)
    try:
        return await grant_profile(db, role, profile, login=login)
    except RoleError as error:
        fail(str(error), EXIT_CONFIG)


@policy.command()
@click.argument("role")
@click.pass_context
def revoke(ctx: click.Context, role: str) -> None:
    """Take every rorsync privilege away from ROLE (the role itself is kept)."""
    run_async(_revoke(settings_of(ctx), role))
    click.echo(f"role {role}: no access to rorsync left")


@with_database
async def _revoke(db: Database, settings: Settings, role: str) -> None:
    await require_current_schema(db)
    try:
        await revoke_role(db, role)
    except RoleError as error:
        fail(str(error), EXIT_CONFIG)


@policy.command()
@click.pass_context
def show(ctx: click.Context) -> None:
    """Show the configured policy, the state of the views and which roles read which profile."""
    settings = settings_of(ctx)
    state, current, roles = run_async(_show(settings))
    config = settings.policy
    click.echo(f"feed profile: {settings.feed_profile} (no profile sees more than the mirror receives)")
    click.echo(f"P0 sees installed capacity: {'yes' if config.p0_installed_capacity else 'no'}")
    personal = config.personal_data_profiles
    click.echo(f"personal data profiles: {'default (1; 2, 3, 5 per the offer)' if personal is None else personal}")
    mapping = ", ".join(f"{code}→{profile}" for code, profile in sorted(config.cu_profiles.items()))
    click.echo(f"CU codes: {mapping}; others: {config.unknown_cu}")
    if state is None:
        click.echo("views: not built yet (run `rorsync db upgrade`)")
    else:
        freshness = "current" if current else "built with other settings: run `rorsync db upgrade`"
        click.echo(f"views: {freshness}, built {state.built_at:%Y-%m-%d %H:%M:%S}Z with {state.settings}")
    if roles is None:
        fail(SQLITE_BOUNDARY, EXIT_CONFIG)
    if not roles:
        click.echo("roles: none reads a profile view")
    for access in roles:
        click.echo(_describe(access))


def _describe(access: RoleAccess) -> str:
    profiles = ", ".join(str(p) for p in access.profiles) or "none complete"
    notes = [] if access.can_login else ["NOLOGIN"]
    if access.partial:
        notes.append(f"also {', '.join(access.partial)}")
    if access.base_tables:
        notes.append("CAN READ BASE TABLES")
    suffix = f" ({'; '.join(notes)})" if notes else ""
    return f"role {access.role}: profile {profiles}{suffix}"


@with_database
async def _show(db: Database, settings: Settings) -> tuple[ViewsState | None, bool, list[RoleAccess] | None]:
    await require_current_schema(db)
    async with db.read() as conn:
        state = await read_state(conn)
    current = await views_current(db, settings)
    return state, current, None if db.is_sqlite else await list_access(db)
