"""Bring a mirror database to the state this rorsync expects: schema, code labels, policy views.

One sequence for ``rorsync db upgrade`` (run by the systemd unit before every start) and the demo:
migrate, load the packaged NOS labels the package changed, then (re)build the per-profile views for
the configured ``[policy]`` when they differ. Every step is a no-op when nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from rorsync.config import Settings
from rorsync.policy.views import ensure_views
from rorsync.store import migrate
from rorsync.store.engine import Database
from rorsync.store.nomenclature import seed_packaged


@dataclass(frozen=True, slots=True)
class UpgradeReport:
    before: str | None
    after: str | None
    seeded: list[str]  # nomenclature tables whose labels the package changed
    views_rebuilt: bool | None  # None: not at head, views untouched


async def upgrade_mirror(db: Database, settings: Settings, revision: str = "head") -> UpgradeReport:
    before, after = await migrate.upgrade(db, revision)
    if after != migrate.head_revision():
        return UpgradeReport(before, after, [], None)
    seeded, rebuilt = await refresh_read_model(db, settings)
    return UpgradeReport(before, after, seeded, rebuilt)


async def refresh_read_model(db: Database, settings: Settings) -> tuple[list[str], bool]:
    """Labels and views current for ``settings`` (the daemon calls it at start and on reload).

    Returns the nomenclature tables reloaded and whether the views were rebuilt.
    """
    seeded = [change.table_id for change in await seed_packaged(db) if change.changed]
    return seeded, await ensure_views(db, settings)
