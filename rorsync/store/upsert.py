"""Batch upserts: idempotent, version-guarded, with child rows replaced as a set.

Delivery from the ROR is at-least-once (retries, cursor overlap, duplicates across pages, export
files older than a delta), so correctness lives here, in the write:

* A record is written only when it is newer than the stored version: a later ``last_updated``, or
  the same ``last_updated`` with a different payload (a source that changed content without moving
  its timestamp; the latest fetch reflects the latest state). Replaying a batch, or an older
  version after a newer one, changes nothing but ``last_seen``.
* The stored versions of a batch are read first, in the write transaction, so the decision is made
  once in Python: the child rows (codes, contacts, capacities...) of a refused record are never
  touched, and the run journal gets exact counts.
* A capacity indicator is diffed rather than replaced, so that every change of a value lands in
  ``capacity_history`` with the previous value.
* Every insert, update and restore appends to ``change_log``, in the same transaction.

All functions take an open write transaction (``Database.write()``); the caller commits cursors in
that same transaction, so a crash leaves either both rows and cursor, or neither.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from rorsync import metrics
from rorsync.model import CAPACITY_IDENTITY, Entity, Record, RecordError, Source
from rorsync.store import schema
from rorsync.store.bulk import insert_rows

IN_CHUNK = 900  # keys per IN (...) list, well under SQLite's and asyncpg's bound-parameter limits


@dataclass(slots=True)
class ApplyCounts:
    """What one or more batches did, for the run journal and metrics."""

    received: int = 0
    inserted: int = 0
    updated: int = 0
    restored: int = 0
    unchanged: int = 0
    stale: int = 0
    capacity_changes: int = 0
    quarantined: int = 0

    def add(self, other: ApplyCounts) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        return {name: value for name, value in asdict(self).items() if value}


def payload_hash(payload: bytes) -> int:
    """A signed 64-bit digest of the raw payload (fits BIGINT on both backends)."""
    return int.from_bytes(hashlib.blake2b(payload, digest_size=8).digest(), "big", signed=True)


@dataclass(frozen=True, slots=True)
class WriteContext:
    """Where and when a batch is written: the open write transaction and its bookkeeping values."""

    conn: AsyncConnection
    source: Source
    seen_at: dt.datetime
    run_id: int | None = None


@dataclass(slots=True)
class _Stored:
    pk: int
    last_updated: dt.datetime
    payload_hash: int
    deleted: bool


async def apply_records(ctx: WriteContext, records: Iterable[Record]) -> ApplyCounts:
    """Upsert ``records`` (any mix of entities) in the caller's write transaction."""
    by_entity: dict[Entity, dict[str, tuple[Record, int]]] = {}
    counts = ApplyCounts()
    for record in records:
        counts.received += 1
        digest = payload_hash(record.payload)
        group = by_entity.setdefault(record.entity, {})
        kept = group.get(record.resource_id)
        # Duplicates inside one batch (HAPI pages, repeated includes): keep the newest.
        if kept is None or (record.last_updated, digest) > (kept[0].last_updated, kept[1]):
            group[record.resource_id] = (record, digest)
        else:
            counts.unchanged += 1
    # Parents before the objects that point to them keeps the change log in a natural order.
    for entity in Entity:
        if entity in by_entity:
            applied = await _apply_entity(ctx, entity, by_entity[entity])
            _observe(ctx.source, entity, applied)
            counts.add(applied)
    return counts


def _observe(source: Source, entity: Entity, counts: ApplyCounts) -> None:
    for op in ("inserted", "updated", "restored", "unchanged", "stale"):
        if value := getattr(counts, op):
            metrics.RECORDS_WRITTEN.labels(source.value, entity.value, op).inc(value)
    if counts.capacity_changes:
        metrics.CAPACITY_CHANGES.labels(source.value).inc(counts.capacity_changes)


async def _apply_entity(ctx: WriteContext, entity: Entity, group: dict[str, tuple[Record, int]]) -> ApplyCounts:
    table = schema.ENTITY_TABLES[entity]
    stored = await _stored_versions(ctx, table, list(group))
    counts = ApplyCounts()
    inserts: list[tuple[Record, int]] = []
    updates: list[tuple[Record, int, _Stored]] = []
    touched: list[int] = []
    for resource_id, (record, digest) in group.items():
        current = stored.get(resource_id)
        if current is None:
            inserts.append((record, digest))
        elif current.deleted or _is_newer(record, digest, current):
            updates.append((record, digest, current))
        else:
            touched.append(current.pk)
            if record.last_updated < current.last_updated:
                counts.stale += 1
            else:
                counts.unchanged += 1
    new_pks = await _insert(ctx, table, inserts)
    await _update(ctx, table, updates)
    if touched:
        await ctx.conn.execute(
            update(table).where(table.c.pk == bindparam("b_pk")).values(last_seen=bindparam("b_seen")),
            [{"b_pk": pk, "b_seen": ctx.seen_at} for pk in touched],
        )
    written = [(record, new_pks[record.resource_id]) for record, _ in inserts]
    replaced = [(record, current.pk) for record, _, current in updates]
    counts.capacity_changes += await _replace_children(ctx, entity, written, replaced)
    changes = [(record.resource_id, "insert") for record, _ in inserts]
    changes += [(record.resource_id, "restore" if current.deleted else "update") for record, _, current in updates]
    await log_changes(ctx, entity, changes)
    counts.inserted += len(inserts)
    counts.restored += sum(1 for _, _, current in updates if current.deleted)
    counts.updated += sum(1 for _, _, current in updates if not current.deleted)
    return counts


def _is_newer(record: Record, digest: int, current: _Stored) -> bool:
    if record.last_updated != current.last_updated:
        return record.last_updated > current.last_updated
    return digest != current.payload_hash


def chunked(values: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


async def _stored_versions(ctx: WriteContext, table: Table, resource_ids: list[str]) -> dict[str, _Stored]:
    found: dict[str, _Stored] = {}
    columns = (table.c.resource_id, table.c.pk, table.c.last_updated, table.c.payload_hash, table.c.deleted_at)
    for chunk in chunked(resource_ids):
        result = await ctx.conn.execute(
            select(*columns).where(table.c.source == ctx.source.value, table.c.resource_id.in_(chunk))
        )
        for resource_id, pk, last_updated, digest, deleted_at in result:
            found[resource_id] = _Stored(pk, last_updated, digest, deleted_at is not None)
    return found


def _entity_values(record: Record, digest: int, seen_at: dt.datetime) -> dict[str, Any]:
    return {
        **record.row,
        "region": record.region,
        "last_updated": record.last_updated,
        "payload_hash": digest,
        "payload": record.payload,
        "last_seen": seen_at,
    }


async def _insert(ctx: WriteContext, table: Table, inserts: list[tuple[Record, int]]) -> dict[str, int]:
    """Insert new rows with one executemany, then read their keys back.

    ``INSERT … RETURNING`` would be one round trip, but to keep keys in parameter order SQLAlchemy
    falls back to one statement per row on SQLite: reading the keys back is an order of magnitude
    cheaper for a batch.
    """
    if not inserts:
        return {}
    rows = [
        {
            **_entity_values(record, digest, ctx.seen_at),
            "source": ctx.source.value,
            "resource_id": record.resource_id,
            "first_seen": ctx.seen_at,
            "deleted_at": None,
        }
        for record, digest in inserts
    ]
    await insert_rows(ctx.conn, table, rows)
    keys: dict[str, int] = {}
    for chunk in chunked([record.resource_id for record, _ in inserts]):
        result = await ctx.conn.execute(
            select(table.c.resource_id, table.c.pk).where(
                table.c.source == ctx.source.value, table.c.resource_id.in_(chunk)
            )
        )
        keys.update((row.resource_id, row.pk) for row in result)
    return keys


async def _update(ctx: WriteContext, table: Table, updates: list[tuple[Record, int, _Stored]]) -> None:
    if not updates:
        return
    rows = [
        {**_entity_values(record, digest, ctx.seen_at), "deleted_at": None, "b_pk": current.pk}
        for record, digest, current in updates
    ]
    columns = [name for name in rows[0] if name != "b_pk"]
    statement = update(table).where(table.c.pk == bindparam("b_pk")).values({c: bindparam(c) for c in columns})
    await ctx.conn.execute(statement, rows)


async def _replace_children(
    ctx: WriteContext, entity: Entity, written: list[tuple[Record, int]], replaced: list[tuple[Record, int]]
) -> int:
    """Child rows of new and updated owners; capacities are diffed, everything else replaced.

    Returns the number of capacity history rows written.
    """
    owners = written + replaced
    if not owners:
        return 0
    replaced_pks = [pk for _, pk in replaced]
    owned = {"owner_entity": entity.value}
    for table in (schema.entity_code, schema.contact):
        await _delete_children(ctx, table, table.c.owner_pk, replaced_pks, table.c.owner_entity == entity.value)
    await _insert_rows(ctx, schema.entity_code, [{**c, **owned, "owner_pk": pk} for r, pk in owners for c in r.codes])
    await _insert_rows(ctx, schema.contact, [{**c, **owned, "owner_pk": pk} for r, pk in owners for c in r.contacts])
    if entity is Entity.OFFER:
        links = schema.offer_location
        await _delete_children(ctx, links, links.c.offer_pk, replaced_pks)
        rows = [{"offer_pk": pk, "location_ref": ref} for r, pk in owners for ref in dict.fromkeys(r.location_refs)]
        await _insert_rows(ctx, links, rows)
    if entity is not Entity.LOCATION:
        return 0
    for table in (schema.equipment, schema.residential_capacity):
        await _delete_children(ctx, table, table.c.location_pk, replaced_pks)
    await _insert_rows(ctx, schema.equipment, [{**e, "location_pk": pk} for r, pk in owners for e in r.equipment])
    await _insert_rows(
        ctx, schema.residential_capacity, [{**e, "location_pk": pk} for r, pk in owners for e in r.residential]
    )
    return await _sync_capacities(ctx, written, replaced)


async def _delete_children(
    ctx: WriteContext, table: Table, owner_column: Any, owner_pks: list[int], *conditions: Any
) -> None:
    for chunk in chunked(owner_pks):
        await ctx.conn.execute(delete(table).where(owner_column.in_(chunk), *conditions))


async def _insert_rows(ctx: WriteContext, table: Table, rows: list[dict[str, Any]]) -> None:
    await insert_rows(ctx.conn, table, rows)


CapacityKey = tuple[int, tuple[str, ...]]


async def _sync_capacities(
    ctx: WriteContext, written: list[tuple[Record, int]], replaced: list[tuple[Record, int]]
) -> int:
    """Diff the indicators of each location against what is stored; returns the history rows written.

    A location seen for the first time records no history (its values are in ``capacity`` with
    ``observed_at``); afterwards every appearance, change of value and removal is recorded.
    """
    table = schema.capacity
    stored: dict[CapacityKey, Any] = {}
    for chunk in chunked([pk for _, pk in replaced]):
        for row in await ctx.conn.execute(select(table).where(table.c.location_pk.in_(chunk))):
            stored[(row.location_pk, tuple(getattr(row, name) for name in CAPACITY_IDENTITY))] = row
    incoming: dict[CapacityKey, dict[str, Any]] = {}
    for record, pk in written + replaced:
        for capacity in sorted(record.capacities, key=_capacity_order):
            line: dict[str, Any] = {**capacity, "location_pk": pk, "observed_at": ctx.seen_at}
            incoming[(pk, tuple(line[name] for name in CAPACITY_IDENTITY))] = line
    known_locations = {pk for _, pk in replaced}
    history: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for key, new in incoming.items():
        old = stored.get(key)
        if old is None:
            if key[0] in known_locations:
                history.append(_history(ctx, new, None))
            continue
        if (old.nb, old.source_type, old.updated_at, old.comment) != (
            new["nb"],
            new["source_type"],
            new["updated_at"],
            new["comment"],
        ):
            changed.append({**new, "b_pk": old.pk})
            if old.nb != new["nb"]:
                history.append(_history(ctx, new, old.nb))
    removed = [old for key, old in stored.items() if key not in incoming]
    for old in removed:
        gone = {**{name: getattr(old, name) for name in CAPACITY_IDENTITY}, "location_pk": old.location_pk}
        history.append(_history(ctx, {**gone, "nb": None, "updated_at": None}, old.nb))
    await _delete_children(ctx, table, table.c.pk, [old.pk for old in removed])
    if changed:
        names = ("nb", "source_type", "updated_at", "comment", "observed_at")
        await ctx.conn.execute(
            update(table).where(table.c.pk == bindparam("b_pk")).values({n: bindparam(n) for n in names}),
            [{"b_pk": row["b_pk"], **{n: row[n] for n in names}} for row in changed],
        )
    await _insert_rows(ctx, table, [new for key, new in incoming.items() if key not in stored])
    await _insert_rows(ctx, schema.capacity_history, history)
    return len(history)


def _capacity_order(line: Any) -> tuple[dt.datetime, int]:
    """Duplicate indicators in one Location (bad data): the most recently updated value wins."""
    updated = line["updated_at"] or dt.datetime.min.replace(tzinfo=dt.UTC)
    return (updated, line["nb"])


def _history(ctx: WriteContext, line: dict[str, Any], previous: int | None) -> dict[str, Any]:
    return {
        **{name: line[name] for name in CAPACITY_IDENTITY},
        "location_pk": line["location_pk"],
        "nb": line["nb"],
        "previous_nb": previous,
        "updated_at": line["updated_at"],
        "observed_at": ctx.seen_at,
        "run_id": ctx.run_id,
    }


async def log_changes(ctx: WriteContext, entity: Entity, changes: list[tuple[str, str]]) -> None:
    """Append (resource_id, op) pairs to the change log that local applications follow."""
    rows = [
        {
            "changed_at": ctx.seen_at,
            "source": ctx.source.value,
            "entity": entity.value,
            "resource_id": resource_id,
            "op": op,
            "run_id": ctx.run_id,
        }
        for resource_id, op in changes
    ]
    await _insert_rows(ctx, schema.change_log, rows)


async def quarantine(ctx: WriteContext, errors: Iterable[RecordError], entity: Entity | None = None) -> int:
    """Keep what could not be mapped, with its error, so nothing received is silently lost."""
    rows = [
        {
            "source": ctx.source.value,
            "entity": entity.value if entity else None,
            "resource_id": None,
            "received_at": ctx.seen_at,
            "error": str(error),
            "payload": error.payload or None,
            "run_id": ctx.run_id,
        }
        for error in errors
    ]
    await _insert_rows(ctx, schema.quarantine, rows)
    if rows:
        metrics.RECORDS_QUARANTINED.labels(ctx.source.value).inc(len(rows))
    return len(rows)
