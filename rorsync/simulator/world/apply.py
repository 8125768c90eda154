"""Writing into the world file: upserts with their index rows, hard deletions, derived context.

Plain functions over one ``sqlite3.Connection`` inside the caller's transaction. The derived context
(``sensitive``, ``medico_social`` of Locations, PractitionerRoles and Practitioners, from the offers they
depend on) follows the access policy's reading: a Location is sensitive when any offer pointing to it
is, and médico-social when a non-sensitive MS offer points to it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson

from rorsync.simulator.world.elements import Json
from rorsync.simulator.world.index import ResourceIndex, index_resource
from rorsync.simulator.world.stamps import touch

Key = tuple[str, str]  # (resource type, id)


@dataclass(frozen=True, slots=True)
class ResourceWrite:
    """A resource to store, with the EG it belongs to (``None`` for an EJ)."""

    resource: Json
    establishment: str | None


_UPSERT = """
INSERT INTO resource (rtype, id, region, eg, last_updated, committed_at, sensitive, medico_social, body)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (rtype, id) DO UPDATE SET
    region = excluded.region, eg = excluded.eg, last_updated = excluded.last_updated,
    committed_at = excluded.committed_at, sensitive = excluded.sensitive,
    medico_social = excluded.medico_social, body = excluded.body
RETURNING pk
"""


class _IndexRows:
    """Index rows of a batch, inserted with one ``executemany`` per table."""

    def __init__(self) -> None:
        self.tokens: list[tuple[int, str, str, str]] = []
        self.links: list[tuple[int, str, str, str]] = []
        self.capacity: list[tuple[int, str, int, int | None, str, str]] = []

    def add(self, pk: int, index: ResourceIndex) -> None:
        self.tokens.extend((pk, *token) for token in index.tokens)
        self.links.extend((pk, *link) for link in index.links)
        self.capacity.extend(
            (pk, line.status, line.nb, line.updated, line.element_class, line.temporary_assignment)
            for line in index.capacity
        )

    def insert(self, conn: sqlite3.Connection) -> None:
        conn.executemany("INSERT INTO token VALUES (?, ?, ?, ?)", self.tokens)
        conn.executemany("INSERT INTO link VALUES (?, ?, ?, ?)", self.links)
        conn.executemany("INSERT INTO capacity VALUES (?, ?, ?, ?, ?, ?)", self.capacity)


def upsert(conn: sqlite3.Connection, writes: Iterable[ResourceWrite], committed_at: int) -> None:
    """Store resources (new or replaced) and replace their index rows."""
    rows = _IndexRows()
    for write in writes:
        index = index_resource(write.resource)
        pk = int(conn.execute(_UPSERT, _row_values(index, write, committed_at)).fetchone()[0])
        for table in ("token", "link", "capacity"):
            conn.execute(f"DELETE FROM {table} WHERE pk = ?", (pk,))
        rows.add(pk, index)
    rows.insert(conn)


def insert_new(conn: sqlite3.Connection, writes: Sequence[ResourceWrite], committed_at: int) -> None:
    """Bulk path for a world being generated: every resource is new, pks are assigned here."""
    next_pk = int(conn.execute("SELECT coalesce(max(pk), 0) + 1 FROM resource").fetchone()[0])
    rows = _IndexRows()
    values = []
    for pk, write in enumerate(writes, start=next_pk):
        index = index_resource(write.resource)
        values.append((pk, *_row_values(index, write, committed_at)))
        rows.add(pk, index)
    conn.executemany(
        "INSERT INTO resource (pk, rtype, id, region, eg, last_updated, committed_at, sensitive, medico_social, body)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        values,
    )
    rows.insert(conn)


def _row_values(index: ResourceIndex, write: ResourceWrite, committed_at: int) -> tuple[object, ...]:
    return (
        index.resource_type,
        index.resource_id,
        index.region,
        write.establishment,
        index.last_updated,
        committed_at,
        int(index.sensitive),
        int(index.medico_social),
        orjson.dumps(write.resource),
    )


def delete(conn: sqlite3.Connection, keys: Iterable[Key]) -> None:
    for resource_type, resource_id in keys:
        found = conn.execute(
            "SELECT pk FROM resource WHERE rtype = ? AND id = ?", (resource_type, resource_id)
        ).fetchone()
        if found is None:
            continue
        for table in ("token", "link", "capacity", "resource"):
            conn.execute(f"DELETE FROM {table} WHERE pk = ?", (found[0],))


def dependants(conn: sqlite3.Connection, keys: Iterable[Key]) -> set[Key]:
    """Resources whose derived context may change when ``keys`` change (the keys themselves included)."""
    found: set[Key] = set()
    for resource_type, resource_id in keys:
        found.add((resource_type, resource_id))
        if resource_type == "HealthcareService":
            found.update(_linked_from(conn, resource_type, resource_id, "location"))
            roles = _linking_to(conn, "PractitionerRole", "service", resource_type, resource_id)
            found.update(roles)
            for _, role_id in roles:
                found.update(_linked_from(conn, "PractitionerRole", role_id, "practitioner"))
        elif resource_type == "PractitionerRole":
            found.update(_linked_from(conn, resource_type, resource_id, "practitioner"))
    return found


def _linked_from(conn: sqlite3.Connection, resource_type: str, resource_id: str, param: str) -> list[Key]:
    rows = conn.execute(
        "SELECT l.dst_type, l.dst_id FROM link l JOIN resource r ON r.pk = l.pk"
        " WHERE r.rtype = ? AND r.id = ? AND l.param = ?",
        (resource_type, resource_id, param),
    )
    return [(str(t), str(i)) for t, i in rows]


def _linking_to(conn: sqlite3.Connection, source_type: str, param: str, target_type: str, target_id: str) -> list[Key]:
    rows = conn.execute(
        "SELECT r.rtype, r.id FROM link l JOIN resource r ON r.pk = l.pk"
        " WHERE l.dst_type = ? AND l.dst_id = ? AND l.param = ? AND r.rtype = ?",
        (target_type, target_id, param, source_type),
    )
    return [(str(t), str(i)) for t, i in rows]


# Derived context, one statement per dependent type, in dependency order. ``{where}`` narrows the rows.
_CONTEXT_SQL: tuple[tuple[str, str], ...] = (
    (
        "Location",
        """UPDATE resource SET
            sensitive = EXISTS (SELECT 1 FROM link l JOIN resource h ON h.pk = l.pk
                WHERE l.dst_type = 'Location' AND l.dst_id = resource.id AND l.param = 'location'
                AND h.rtype = 'HealthcareService' AND h.sensitive = 1),
            medico_social = EXISTS (SELECT 1 FROM link l JOIN resource h ON h.pk = l.pk
                WHERE l.dst_type = 'Location' AND l.dst_id = resource.id AND l.param = 'location'
                AND h.rtype = 'HealthcareService' AND h.sensitive = 0 AND h.medico_social = 1)
        WHERE rtype = 'Location' {where}""",
    ),
    (
        "PractitionerRole",
        """UPDATE resource SET
            sensitive = EXISTS (SELECT 1 FROM link l JOIN resource h ON h.rtype = 'HealthcareService'
                AND h.id = l.dst_id WHERE l.pk = resource.pk AND l.param = 'service' AND h.sensitive = 1),
            medico_social = EXISTS (SELECT 1 FROM link l JOIN resource h ON h.rtype = 'HealthcareService'
                AND h.id = l.dst_id WHERE l.pk = resource.pk AND l.param = 'service'
                AND h.sensitive = 0 AND h.medico_social = 1)
        WHERE rtype = 'PractitionerRole' {where}""",
    ),
    (
        "Practitioner",
        """UPDATE resource SET
            sensitive = EXISTS (SELECT 1 FROM link l JOIN resource r ON r.pk = l.pk
                    WHERE l.dst_type = 'Practitioner' AND l.dst_id = resource.id AND l.param = 'practitioner'
                    AND r.sensitive = 1)
                AND NOT EXISTS (SELECT 1 FROM link l JOIN resource r ON r.pk = l.pk
                    WHERE l.dst_type = 'Practitioner' AND l.dst_id = resource.id AND l.param = 'practitioner'
                    AND r.sensitive = 0),
            medico_social = EXISTS (SELECT 1 FROM link l JOIN resource r ON r.pk = l.pk
                WHERE l.dst_type = 'Practitioner' AND l.dst_id = resource.id AND l.param = 'practitioner'
                AND r.sensitive = 0 AND r.medico_social = 1)
        WHERE rtype = 'Practitioner' {where}""",
    ),
)


def refresh_all_contexts(conn: sqlite3.Connection) -> None:
    for _, statement in _CONTEXT_SQL:
        conn.execute(statement.format(where=""))


def refresh_contexts(conn: sqlite3.Connection, keys: Sequence[Key]) -> list[Key]:
    """Recompute the derived context of ``keys``; returns those whose context changed."""
    before = _contexts(conn, keys)
    by_type: dict[str, list[str]] = {}
    for resource_type, resource_id in before:
        by_type.setdefault(resource_type, []).append(resource_id)
    for resource_type, statement in _CONTEXT_SQL:
        ids = by_type.get(resource_type)
        if ids:
            conn.execute(statement.format(where=f"AND id IN ({','.join('?' * len(ids))})"), ids)
    after = _contexts(conn, keys)
    return [key for key, context in after.items() if before.get(key) != context]


def _contexts(conn: sqlite3.Connection, keys: Sequence[Key]) -> dict[Key, tuple[int, int]]:
    found: dict[Key, tuple[int, int]] = {}
    for resource_type, resource_id in keys:
        row = conn.execute(
            "SELECT sensitive, medico_social FROM resource WHERE rtype = ? AND id = ?", (resource_type, resource_id)
        ).fetchone()
        if row is not None:
            found[resource_type, resource_id] = (int(row[0]), int(row[1]))
    return found


def bump(conn: sqlite3.Connection, key: Key, last_updated: int, committed_at: int) -> None:
    """Give ``key`` a new ``meta.lastUpdated`` without other change (its served form changed)."""
    row = conn.execute("SELECT body FROM resource WHERE rtype = ? AND id = ?", key).fetchone()
    if row is None:
        return
    resource = orjson.loads(row[0])
    touch(resource, last_updated)
    conn.execute(
        "UPDATE resource SET body = ?, last_updated = ?, committed_at = ? WHERE rtype = ? AND id = ?",
        (orjson.dumps(resource), last_updated, committed_at, *key),
    )
