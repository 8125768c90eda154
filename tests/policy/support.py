"""Helpers shared by the policy tests: write records, build the views, read a profile's view."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update

from rorsync.model import Entity, Record, Source
from rorsync.policy.rules import PolicySettings
from rorsync.policy.views import ensure_views, view_table
from rorsync.store import schema
from rorsync.store.engine import Database
from rorsync.store.upsert import WriteContext, apply_records

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
DEFAULT_POLICY = PolicySettings()


async def load(db: Database, records: list[Record], settings: PolicySettings = DEFAULT_POLICY) -> None:
    """Store ``records`` and make sure the views follow ``settings``."""
    async with db.write() as conn:
        await apply_records(WriteContext(conn, Source.FHIR, NOW), records)
    await ensure_views(db, settings)


async def tombstone(db: Database, entity: Entity, *resource_ids: str) -> None:
    table = schema.ENTITY_TABLES[entity]
    async with db.write() as conn:
        await conn.execute(update(table).where(table.c.resource_id.in_(resource_ids)).values(deleted_at=NOW))


async def view_rows(db: Database, profile: int, kind: str) -> list[dict[str, Any]]:
    return (await profile_rows(db, profile, [kind]))[kind]


async def profile_rows(db: Database, profile: int, kinds: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Several views of one profile, read in one snapshot."""
    async with db.read() as conn:
        return {
            kind: [dict(row._mapping) for row in await conn.execute(select(view_table(profile, kind)))]
            for kind in kinds
        }
