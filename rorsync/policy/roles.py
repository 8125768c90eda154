"""PostgreSQL roles that read exactly one profile's views.

A granted role gets USAGE on the mirror's schema and SELECT on the ``p{N}_*`` views of its
profile, and loses every other privilege it held on rorsync objects (tables, sequences, other
profiles' views). The views run with their owner's rights (PostgreSQL's default for views) and
are ``security_barrier``, so the role reads filtered rows without any right on the base tables;
row-level security would add nothing as long as no base table is granted, so none is used.

A role inherits what its member roles can do and superusers bypass grants, so after granting, the
role's *effective* rights are checked and the transaction is rolled back if it could still read a
base table or another profile's view. rorsync never sets passwords: ``--login`` only allows the
role to log in; the DBA sets the password (``ALTER ROLE … PASSWORD``) or another authentication.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from rorsync.policy.rules import PROFILES
from rorsync.policy.views import view_names
from rorsync.store import schema
from rorsync.store.engine import Database

SQLITE_BOUNDARY = (
    "SQLite has no database roles: the database file is the access boundary. Anyone who can read "
    "the file reads every table, whatever the profile views filter. Keep the file readable only by "
    "the rorsync service account, and hand other tools one profile's data with "
    "`rorsync export --profile N` (or use PostgreSQL and `rorsync policy grant`)."
)
_BASE_OBJECTS = [table.name for table in schema.metadata.sorted_tables] + ["alembic_version"]
_ANY_PRIVILEGE = "SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER"


class RoleError(RuntimeError):
    """A role rorsync cannot (or must not) manage; the message says why."""


@dataclass(frozen=True, slots=True)
class RoleAccess:
    role: str
    can_login: bool
    profiles: list[int]  # profiles whose every view the role can read
    partial: list[str]  # views it reads outside complete profiles
    base_tables: bool  # it can read a base table (superuser, owner, or a stray grant)


def _require_postgres(db: Database) -> None:
    if db.is_sqlite:
        raise RoleError(SQLITE_BOUNDARY)


def _check_name(role: str) -> None:
    if not role or len(role.encode()) > 63 or role.lower().startswith("pg_") or role.lower() == "public":
        raise RoleError(f"{role!r} is not a role name rorsync can manage (1-63 bytes, not PUBLIC, not pg_*)")


async def _quote(conn: AsyncConnection, role: str) -> str:
    quoted: str = (await conn.execute(text("SELECT quote_ident(:role)"), {"role": role})).scalar_one()
    return quoted


async def grant_profile(db: Database, role: str, profile: int, *, login: bool | None = None) -> bool:
    """Create or update ``role`` to read exactly ``profile``'s views; True if the role was created.

    ``login``: None keeps an existing role's LOGIN attribute (a new role is NOLOGIN).
    """
    _require_postgres(db)
    _check_name(role)
    async with db.write() as conn:
        quoted = await _quote(conn, role)
        found = (
            await conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = :role"), {"role": role})
        ).first()
        if found is not None and found.rolsuper:
            raise RoleError(f"role {role} is a superuser: it reads every table whatever rorsync grants")
        if found is not None and await _owns_mirror(conn, role):
            raise RoleError(f"role {role} owns the mirror (or is a member of its owner): use a dedicated role")
        if found is None:
            await conn.exec_driver_sql(f"CREATE ROLE {quoted} {'LOGIN' if login else 'NOLOGIN'}")
        elif login is not None:
            await conn.exec_driver_sql(f"ALTER ROLE {quoted} {'LOGIN' if login else 'NOLOGIN'}")
        await _revoke_all(conn, quoted)
        await conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {await _schema(conn)} TO {quoted}")
        await conn.exec_driver_sql(f"GRANT SELECT ON {', '.join(view_names(profile))} TO {quoted}")
        await _verify(conn, role, profile)
    return found is None


async def revoke_role(db: Database, role: str) -> None:
    """Take every rorsync privilege away from ``role`` (the role itself stays: dropping it is the DBA's call)."""
    _require_postgres(db)
    _check_name(role)
    async with db.write() as conn:
        exists = (await conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role})).first()
        if exists is None:
            raise RoleError(f"role {role} does not exist")
        await _revoke_all(conn, await _quote(conn, role))


async def list_access(db: Database) -> list[RoleAccess]:
    """Every non-superuser role that can read at least one profile view, with what it reads."""
    _require_postgres(db)
    views = view_names()
    async with db.read() as conn:
        rows = await conn.execute(
            text(
                "SELECT r.rolname, r.rolcanlogin,"
                " array(SELECT v FROM unnest(CAST(:views AS text[])) v"
                "       WHERE to_regclass(v) IS NOT NULL AND has_table_privilege(r.oid, to_regclass(v), 'SELECT')),"
                " EXISTS (SELECT 1 FROM unnest(CAST(:tables AS text[])) t"
                "       WHERE to_regclass(t) IS NOT NULL AND has_table_privilege(r.oid, to_regclass(t), 'SELECT'))"
                " FROM pg_roles r WHERE NOT r.rolsuper AND r.rolname !~ '^pg_' ORDER BY r.rolname"
            ),
            {"views": views, "tables": _BASE_OBJECTS},
        )
        found = []
        for role, can_login, readable, base in rows:
            if not readable:
                continue
            profiles = [p for p in PROFILES if set(view_names(p)) <= set(readable)]
            whole = {name for p in profiles for name in view_names(p)}
            found.append(RoleAccess(role, can_login, profiles, sorted(set(readable) - whole), base))
        return found


async def _owns_mirror(conn: AsyncConnection, role: str) -> bool:
    owner = await conn.execute(
        text("SELECT pg_has_role(:role, relowner, 'MEMBER') FROM pg_class WHERE oid = to_regclass('organization')"),
        {"role": role},
    )
    return bool(owner.scalar())


async def _schema(conn: AsyncConnection) -> str:
    name: str = (await conn.execute(text("SELECT quote_ident(current_schema())"))).scalar_one()
    return name


async def _revoke_all(conn: AsyncConnection, quoted: str) -> None:
    """REVOKE ALL on every rorsync table, view and sequence (column grants go with the table's)."""
    existing = [
        name
        for name in _BASE_OBJECTS + view_names()
        if (await conn.execute(text("SELECT to_regclass(:name)"), {"name": name})).scalar() is not None
    ]
    await conn.exec_driver_sql(f"REVOKE ALL ON {', '.join(existing)} FROM {quoted}")
    sequences = (
        await conn.execute(
            text(
                "SELECT quote_ident(s.relname) FROM pg_class s JOIN pg_depend d ON d.objid = s.oid"
                " JOIN pg_class t ON t.oid = d.refobjid"
                " WHERE s.relkind = 'S' AND t.relnamespace = current_schema()::regnamespace"
                " AND t.relname = ANY(:tables)"
            ),
            {"tables": _BASE_OBJECTS},
        )
    ).scalars()
    names = ", ".join(sequences)
    if names:
        await conn.exec_driver_sql(f"REVOKE ALL ON SEQUENCE {names} FROM {quoted}")
    await conn.exec_driver_sql(f"REVOKE CREATE ON SCHEMA {await _schema(conn)} FROM {quoted}")


async def _verify(conn: AsyncConnection, role: str, profile: int) -> None:
    """Fail (rolling back) unless the role's effective rights are exactly its profile's views."""
    own = set(view_names(profile))
    others = [name for name in _BASE_OBJECTS + view_names() if name not in own]
    leaks = (
        await conn.execute(
            text(
                "SELECT o FROM unnest(CAST(:objects AS text[])) o WHERE to_regclass(o) IS NOT NULL"
                " AND has_table_privilege(:role, to_regclass(o), :any)"
            ),
            {"objects": others, "role": role, "any": _ANY_PRIVILEGE},
        )
    ).scalars()
    leaked = sorted(leaks)
    if leaked:
        raise RoleError(
            f"role {role} would still have rights on {', '.join(leaked[:5])}"
            f"{' …' if len(leaked) > 5 else ''} through a role it belongs to, ownership or PUBLIC grants:"
            " use a dedicated role"
        )
