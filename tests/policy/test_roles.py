"""PostgreSQL roles per profile: only their views, nothing else, and the views leak nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from click.testing import CliRunner

from rorsync.cli import main
from rorsync.policy.roles import RoleError, grant_profile, list_access, revoke_role
from rorsync.policy.rules import PolicySettings
from rorsync.policy.views import ensure_views, view_names
from rorsync.store import schema
from rorsync.store.engine import Database
from tests import factories as f
from tests.policy.support import load

BASE_TABLES = [table.name for table in schema.metadata.sorted_tables] + ["alembic_version"]


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(postgres_url: str) -> str:
    """These tests are about PostgreSQL roles: no SQLite variant."""
    return postgres_url


@pytest.fixture
async def role(postgres_url: str) -> AsyncIterator[str]:
    """A throw-away role name; roles are cluster-wide, so it is dropped afterwards."""
    name = f"rorsync_test_{uuid.uuid4().hex[:8]}"
    yield name
    conn = await asyncpg.connect(postgres_url)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name):
            await conn.execute(f'DROP OWNED BY "{name}"; DROP ROLE "{name}"')
    finally:
        await conn.close()


class As:
    """A session acting as ``role`` (SET ROLE from the test superuser)."""

    def __init__(self, url: str, role: str) -> None:
        self.url, self.role = url, role

    async def __aenter__(self) -> asyncpg.Connection:
        self.conn = await asyncpg.connect(self.url)
        await self.conn.execute(f'SET ROLE "{self.role}"')
        return self.conn

    async def __aexit__(self, *exc: object) -> None:
        await self.conn.close()


async def readable(url: str, role: str, names: list[str]) -> dict[str, bool]:
    found = {}
    async with As(url, role) as conn:
        for name in names:
            try:
                await conn.fetch(f"SELECT * FROM {name} LIMIT 1")
                found[name] = True
            except asyncpg.InsufficientPrivilegeError:
                found[name] = False
    return found


SAMPLE = [
    f.organization("eg", drop_zone=True),
    f.offer("s1", sensitive=True, location_refs=["l1"], contacts=[f.telecom("0101", contact_level=1)]),
    f.offer(
        "s2", location_refs=["l2"], contacts=[f.telecom("0202", contact_level=1), f.telecom("0303", contact_level=3)]
    ),
    f.location("l1", capacities=[f.capacity("02", 4)]),
    f.location("l2", capacities=[f.capacity("06", 9), f.capacity("02", 5)]),
]


async def test_a_granted_role_reads_its_profile_views_and_nothing_else(
    database: Database, postgres_url: str, role: str
) -> None:
    await load(database, SAMPLE)
    assert await grant_profile(database, role, 2) is True
    access = await readable(postgres_url, role, view_names() + BASE_TABLES)
    assert {name for name, ok in access.items() if ok} == set(view_names(2))
    async with As(postgres_url, role) as conn:
        assert {r["resource_id"] for r in await conn.fetch("SELECT resource_id FROM p2_offer")} == {"s2"}
        for statement in ("INSERT INTO p2_offer (resource_id) VALUES ('x')", "DELETE FROM p2_capacity"):
            with pytest.raises((asyncpg.InsufficientPrivilegeError, asyncpg.ObjectNotInPrerequisiteStateError)):
                await conn.execute(statement)


async def test_granting_twice_is_idempotent_and_a_new_profile_replaces_the_old(
    database: Database, postgres_url: str, role: str
) -> None:
    await load(database, SAMPLE)
    assert await grant_profile(database, role, 2) is True
    assert await grant_profile(database, role, 2) is False
    [entry] = [a for a in await list_access(database) if a.role == role]
    assert (entry.profiles, entry.partial, entry.base_tables, entry.can_login) == ([2], [], False, False)
    await grant_profile(database, role, 1)
    access = await readable(postgres_url, role, view_names())
    assert {name for name, ok in access.items() if ok} == set(view_names(1))


async def test_revoke_removes_every_access(database: Database, postgres_url: str, role: str) -> None:
    await load(database, SAMPLE)
    await grant_profile(database, role, 4)
    await revoke_role(database, role)
    assert not any((await readable(postgres_url, role, view_names() + BASE_TABLES)).values())
    assert role not in {a.role for a in await list_access(database)}
    with pytest.raises(RoleError, match="does not exist"):
        await revoke_role(database, "rorsync_test_nobody")


async def test_grants_survive_a_rebuild_of_the_views(database: Database, postgres_url: str, role: str) -> None:
    await load(database, SAMPLE)
    await grant_profile(database, role, 0)
    assert await ensure_views(database, PolicySettings(p0_installed_capacity=True)) is True
    access = await readable(postgres_url, role, view_names())
    assert {name for name, ok in access.items() if ok} == set(view_names(0))


async def test_a_login_role_connects_and_reads_only_its_views(database: Database, postgres_url: str, role: str) -> None:
    await load(database, SAMPLE)
    await grant_profile(database, role, 1, login=True)
    conn = await asyncpg.connect(postgres_url, user=role)
    try:
        assert {r["value"] for r in await conn.fetch("SELECT value FROM p1_contact")} == {"0101", "0202", "0303"}
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT * FROM contact")
    finally:
        await conn.close()


async def test_superusers_and_the_owner_are_refused(database: Database) -> None:
    with pytest.raises(RoleError, match="superuser"):
        await grant_profile(database, "postgres", 2)
    with pytest.raises(RoleError, match="not a role name"):
        await grant_profile(database, "pg_monitor", 2)


async def test_a_leaky_function_sees_only_the_rows_the_view_lets_through(
    database: Database, postgres_url: str, role: str
) -> None:
    """security_barrier: the view's filter runs before a user's (cheap, leaky) predicate."""
    await load(database, SAMPLE)
    await grant_profile(database, role, 2)
    admin = await asyncpg.connect(postgres_url)
    schema_name = f"leak_{uuid.uuid4().hex[:8]}"
    try:
        await admin.execute(
            f"CREATE SCHEMA {schema_name};"
            f"CREATE FUNCTION {schema_name}.leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS"
            " $$BEGIN RAISE NOTICE 'saw %', $1; RETURN true; END$$;"
            f'GRANT USAGE ON SCHEMA {schema_name} TO "{role}";'
            f'GRANT EXECUTE ON FUNCTION {schema_name}.leak(text) TO "{role}"'
        )
        seen: list[str] = []
        async with As(postgres_url, role) as conn:
            conn.add_log_listener(lambda _conn, message: seen.append(message.message))
            await conn.fetch(f"SELECT * FROM p2_contact WHERE {schema_name}.leak(value)")
            await conn.fetch(f"SELECT * FROM p2_capacity WHERE {schema_name}.leak(status)")
        assert sorted(seen) == ["saw 02", "saw 0202"]
        options = await admin.fetch(
            "SELECT relname, reloptions FROM pg_class WHERE relkind = 'v' AND relname = ANY($1::text[])", view_names()
        )
        assert all("security_barrier=true" in (row["reloptions"] or []) for row in options)
        assert len(options) == len(view_names())
    finally:
        await admin.execute(f"DROP SCHEMA {schema_name} CASCADE")
        await admin.close()


def test_on_sqlite_the_policy_commands_explain_the_file_boundary(tmp_path: Path) -> None:
    config = tmp_path / "rorsync.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "m.sqlite"}"\n')
    runner = CliRunner()
    assert runner.invoke(main, ["-c", str(config), "db", "upgrade"]).exit_code == 0
    for args in (["grant", "reader", "--profile", "2"], ["revoke", "reader"], ["show"]):
        result = runner.invoke(main, ["-c", str(config), "policy", *args])
        assert result.exit_code == 2, result.output
        assert "database file is the access boundary" in result.output


def test_policy_commands_on_postgresql(postgres_url: str, role: str, tmp_path: Path) -> None:
    config = tmp_path / "rorsync.toml"
    config.write_text(f'[database]\nurl = "{postgres_url}"\n[policy]\nfeed_profile = 2\n')
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, ["-c", str(config), *args])
        assert result.exit_code == 0, result.output
        return result.output

    assert "policy views rebuilt (feed profile 2)" in run("db", "upgrade")
    assert f"role {role} created" in run("policy", "grant", role, "--profile", "3")
    shown = run("policy", "show")
    assert "feed profile: 2" in shown and "views: current" in shown
    assert f"role {role}: profile 3 (NOLOGIN)" in shown
    run("policy", "revoke", role)
    assert role not in run("policy", "show")
