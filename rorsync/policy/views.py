"""Create, check and re-create the per-profile views, and read them with typed columns.

The views depend on configuration (the feed profile cap, the P0 capacity switch, who sees
personal data), so they are rebuilt whenever the configured policy differs from the one they were
built with. ``policy_state`` records a fingerprint of the exact DDL: any change of settings, of the
rule table or of the view SQL itself changes it, and nothing else does, so
:func:`ensure_views` is cheap to call at every start (``rorsync db upgrade`` and the daemon do).

On PostgreSQL the views are ``security_barrier`` views (a user's leaky function cannot see rows
the view filters out), and grants made by ``rorsync policy grant`` survive a rebuild: they are
read before the views are dropped and given again on the new ones, in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import orjson
from sqlalchemy import TableClause, column, select, table, text
from sqlalchemy.ext.asyncio import AsyncConnection

from rorsync.config import Settings
from rorsync.policy.catalog import VIEW_KINDS, ViewDefinition, build_views, view_name
from rorsync.policy.profiles import policy_settings
from rorsync.policy.rules import PROFILES, PolicySettings
from rorsync.store import schema
from rorsync.store.engine import Database

STATE_KEY = "views"


@dataclass(frozen=True, slots=True)
class ViewsState:
    """What ``policy_state`` records about the views in the database."""

    fingerprint: str
    settings: dict[str, object]
    views: list[str]
    built_at: dt.datetime


def create_view_statement(name: str, query: str, dialect: str) -> str:
    """``CREATE VIEW`` with the options the dialect needs (PostgreSQL: ``security_barrier``)."""
    options = " WITH (security_barrier)" if dialect == "postgresql" else ""
    return f"CREATE VIEW {name}{options} AS\n{query}"


def fingerprint(statements: Iterable[str]) -> str:
    return hashlib.sha256("\n;\n".join(statements).encode()).hexdigest()


def settings_record(policy: PolicySettings) -> dict[str, object]:
    """The policy settings as recorded in ``policy_state`` (for operators; the fingerprint decides)."""
    personal = policy.personal_data_profiles
    return {
        "feed_profile": policy.feed_profile,
        "p0_installed_capacity": policy.p0_installed_capacity,
        "personal_data_profiles": None if personal is None else sorted(personal),
    }


def _as_policy(settings: Settings | PolicySettings) -> PolicySettings:
    return settings if isinstance(settings, PolicySettings) else policy_settings(settings)


@cache
def _ddl(policy: PolicySettings, dialect: str) -> tuple[tuple[ViewDefinition, ...], tuple[str, ...], str]:
    """The views for ``policy``, their CREATE statements and fingerprint (settings are immutable)."""
    views = tuple(build_views(policy))
    statements = tuple(create_view_statement(view.name, view.query, dialect) for view in views)
    return views, statements, fingerprint(statements)


async def read_state(conn: AsyncConnection) -> ViewsState | None:
    state = schema.policy_state
    row = (await conn.execute(select(state).where(state.c.key == STATE_KEY))).first()
    if row is None:
        return None
    return ViewsState(row.fingerprint, orjson.loads(row.settings), orjson.loads(row.views), row.built_at)


async def views_current(db: Database, settings: Settings | PolicySettings) -> bool:
    """Whether the views in the database are the ones ``settings`` asks for."""
    *_, wanted = _ddl(_as_policy(settings), db.dialect)
    async with db.read() as conn:
        state = await read_state(conn)
    return state is not None and state.fingerprint == wanted


async def ensure_views(db: Database, settings: Settings | PolicySettings) -> bool:
    """(Re)create the views if the configured policy differs from the recorded one; True if rebuilt.

    Call it after the schema is current (``rorsync db upgrade`` does; the daemon should at start).
    Readers holding a view open delay the rebuild on PostgreSQL (it takes an exclusive lock).
    """
    policy = _as_policy(settings)
    views, statements, wanted = _ddl(policy, db.dialect)
    async with db.write() as conn:
        state = await read_state(conn)
        if state is not None and state.fingerprint == wanted:
            return False
        existing = sorted({view.name for view in views} | set(state.views if state else ()))
        grants = [] if db.is_sqlite else await _view_grants(conn, existing)
        for name in existing:
            await conn.exec_driver_sql(f"DROP VIEW IF EXISTS {name}")
        for statement in statements:
            await conn.exec_driver_sql(statement)
        current = {view.name for view in views}
        for name, grantee, privilege in grants:
            if name in current:
                await conn.exec_driver_sql(f"GRANT {privilege} ON {name} TO {grantee}")
        await _record_state(conn, wanted, settings_record(policy), [view.name for view in views])
    return True


async def _record_state(
    conn: AsyncConnection, fingerprint_: str, settings: dict[str, object], views: list[str]
) -> None:
    state = schema.policy_state
    await conn.execute(state.delete().where(state.c.key == STATE_KEY))
    await conn.execute(
        state.insert().values(
            key=STATE_KEY,
            fingerprint=fingerprint_,
            settings=orjson.dumps(settings).decode(),
            views=orjson.dumps(views).decode(),
            built_at=dt.datetime.now(dt.UTC),
        )
    )


async def _view_grants(conn: AsyncConnection, names: list[str]) -> list[tuple[str, str, str]]:
    """(view, quoted grantee, privilege) of every grant on the views, owner's own excluded."""
    rows = await conn.execute(
        text(
            "SELECT c.relname, CASE WHEN a.grantee = 0 THEN 'PUBLIC'"
            " ELSE quote_ident(pg_get_userbyid(a.grantee)) END, a.privilege_type"
            " FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a"
            " WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'v'"
            " AND a.grantee <> c.relowner AND c.relname = ANY(:names)"
        ),
        {"names": names},
    )
    return [(name, grantee, privilege) for name, grantee, privilege in rows]


def view_table(profile: int, kind: str) -> TableClause:
    """A typed SQLAlchemy table for one view, so results come back as Python values on both
    backends (aware UTC datetimes, dates, booleans)."""
    name = view_name(profile, kind)
    definition = _definitions()[name]
    return table(name, *(column(c.name, c.type) for c in definition.columns))


@cache
def _definitions() -> dict[str, ViewDefinition]:
    """Column lists do not depend on settings: the defaults describe every view's shape."""
    return {view.name: view for view in build_views(PolicySettings())}


def view_names(profile: int | None = None) -> list[str]:
    profiles = PROFILES if profile is None else (profile,)
    return [view_name(p, kind) for p in profiles for kind in VIEW_KINDS]
