"""Building the views: configuration changes rebuild them, migration 0002 is frozen and reversible."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import inspect

from rorsync.policy.catalog import VIEW_KINDS, build_views
from rorsync.policy.rules import PROFILES, PolicySettings
from rorsync.policy.views import ensure_views, views_current
from rorsync.store import migrate
from rorsync.store.engine import Database
from tests import factories as f
from tests.policy.support import load, view_rows

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "rorsync" / "store" / "migrations" / "versions"


async def test_the_p0_switch_changes_what_p0_capacity_shows(database: Database) -> None:
    records = [
        f.offer("s1", location_refs=["l1"]),
        f.location(
            "l1",
            capacities=[
                f.capacity("01", 20, temporary_assignment="01"),
                f.capacity("01", 4, temporary_assignment="02"),
                f.capacity("08", 19, temporary_assignment="01"),
                f.capacity("02", 3, temporary_assignment="01"),
            ],
        ),
    ]
    await load(database, records)
    assert await view_rows(database, 0, "capacity") == []
    switched = PolicySettings(p0_installed_capacity=True)
    assert not await views_current(database, switched)
    assert await ensure_views(database, switched) is True
    assert await views_current(database, switched)
    assert [(r["status"], r["nb"]) for r in await view_rows(database, 0, "capacity")] == [("01", 20)]
    assert await ensure_views(database, switched) is False
    await ensure_views(database, PolicySettings())
    assert await view_rows(database, 0, "capacity") == []


async def test_the_feed_profile_caps_every_profile(database: Database) -> None:
    records = [f.offer("s1", sensitive=True), f.organization("eg", drop_zone=True)]
    await load(database, records, PolicySettings(feed_profile=2))
    for profile in PROFILES:
        assert await view_rows(database, profile, "offer") == []
        assert [row["drop_zone"] for row in await view_rows(database, profile, "organization")] == [None]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fresh.sqlite'}"


async def test_the_migration_builds_the_default_views_ensure_views_would(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        await migrate.upgrade(db)
        assert await views_current(db, PolicySettings())
        assert await ensure_views(db, PolicySettings()) is False
    finally:
        await db.close()


def test_the_newest_frozen_read_model_is_what_the_rules_build() -> None:
    """The read model changes only with a migration: when this fails, the rules or the catalog
    changed what the default views show. Freeze the new SQL in a new migration
    (scripts/freeze_views.py) and note the change in docs/read-model.md."""
    newest = sorted(MIGRATIONS.glob("*_policy_views.sql"))[-1]
    frozen = dict(re.findall(r"^-- view: (\S+)\n(.*?)(?=^-- view: |\Z)", newest.read_text(), flags=re.M | re.S))
    built = {view.name: view.query for view in build_views(PolicySettings())}
    assert {name: query.strip() for name, query in frozen.items()} == built


async def _views(db: Database) -> set[str]:
    async with db.read() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_view_names()))


async def test_downgrade_drops_every_view_even_after_a_rebuild(database_url: str) -> None:
    db = Database(database_url)
    try:
        await migrate.upgrade(db)
        await ensure_views(db, PolicySettings(feed_profile=3, p0_installed_capacity=True))
        assert {f"p{p}_{kind}" for p in PROFILES for kind in VIEW_KINDS} <= await _views(db)
        await migrate.downgrade(db, "0001")
        assert not {name for name in await _views(db) if re.fullmatch(r"p\d_\w+", name)}
        await migrate.upgrade(db)
        assert await views_current(db, PolicySettings())
    finally:
        await migrate.downgrade(db, "base")
        await db.close()


def test_the_read_model_documents_every_view_and_column() -> None:
    """docs/read-model.md is the public API: each view kind has a section listing exactly its columns."""
    text = (ROOT / "docs" / "read-model.md").read_text()
    sections = dict(re.findall(r"^### `p\{N\}_(\w+)`.*?\n(.*?)(?=^### |^## )", text, flags=re.M | re.S))
    assert set(sections) == set(VIEW_KINDS)
    for view in build_views(PolicySettings())[: len(VIEW_KINDS)]:
        cells = re.findall(r"^\| ([a-z_][a-z_0-9 ,/]*) \|", sections[view.kind], flags=re.M)
        documented = [name.strip() for cell in cells[1:] for name in re.split(r"[,/]", cell)]  # [0]: header
        assert documented == [column.name for column in view.columns], view.kind
