"""``WorldStore``: the simulator's world in its own SQLite file, and the API every view reads it through.

The FHIR endpoint, the CSD endpoint and the extraction ZIP all read the same store, so a mirror built
over any protocol describes the same offer. The store is thread-safe: each thread reads through its own
connection (WAL mode, so readers never block the writer), and writes are serialised by one lock. The
aiohttp apps call it from an executor so the event loop never waits on a big query.

Changes made by the change feed may be *late commits*: :meth:`WorldStore.record_change` keeps them in
``pending`` until their visibility instant, and every read first promotes the changes that are due.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson

from rorsync.simulator.world import apply
from rorsync.simulator.world.apply import Key, ResourceWrite
from rorsync.simulator.world.elements import Json
from rorsync.simulator.world.ids import IdAllocator
from rorsync.simulator.world.instants import now_micros
from rorsync.simulator.world.schema import DDL, SCHEMA_VERSION
from rorsync.sources.fhir.profile import RESOURCE_TYPES

T = TypeVar("T")
RESOURCE_COLUMNS = "pk, rtype, id, region, eg, last_updated, committed_at, sensitive, medico_social, body"


@dataclass(frozen=True, slots=True)
class WorldResource:
    """One stored resource with its index columns; ``body`` is the compact FHIR JSON."""

    pk: int
    resource_type: str
    resource_id: str
    region: str | None
    establishment: str | None  # id of the EG the resource belongs to (None for an EJ)
    last_updated: int  # meta.lastUpdated, µs
    committed_at: int  # when it became visible, µs
    sensitive: bool  # the offer's flag, or derived from the offers (Location, role, practitioner)
    medico_social: bool
    body: bytes

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> WorldResource:
        return cls(
            int(row[0]), row[1], row[2], row[3], row[4], int(row[5]), int(row[6]), bool(row[7]), bool(row[8]), row[9]
        )

    def json(self) -> Json:
        found: Json = orjson.loads(self.body)
        return found


@dataclass(frozen=True, slots=True)
class Change:
    """One transaction of the change feed: made at ``made_at`` (the resources' lastUpdated), visible at
    ``visible_at`` (later than ``made_at`` for a late commit)."""

    kind: str  # update, capacity, closure, create, delete
    made_at: int
    visible_at: int
    writes: list[ResourceWrite] = field(default_factory=list)
    deletions: list[Key] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LoggedChange:
    """A line of the world's journal: what happened to one resource."""

    change_id: int
    kind: str
    action: str  # put, delete, touch (re-stamped because its served form changed)
    resource_type: str
    resource_id: str
    establishment: str | None
    made_at: int
    visible_at: int


@dataclass(frozen=True, slots=True)
class EstablishmentSubtree:
    """Everything that belongs to one EG, as FHIR dicts (the unit the CSD services describe)."""

    legal_entity: Json | None
    establishment: Json
    internal_organizations: list[Json]
    offers: list[Json]
    locations: list[Json]
    roles: list[Json]
    practitioners: list[Json]


class WorldStore:
    """The world file. Open it with :meth:`open` (creates the schema when the file is new)."""

    def __init__(self, path: Path, *, clock: Callable[[], int] = now_micros) -> None:
        self.path = path
        self.clock = clock
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._writer = self._connect()
        self._writer.executescript(DDL)
        self._next_due = self._first_pending()
        self._pending_keys = self._load_pending_keys()

    @classmethod
    def open(cls, path: Path, *, clock: Callable[[], int] = now_micros) -> WorldStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(path, clock=clock)

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    # --- connections --------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA busy_timeout = 30000")
        with self._connections_lock:
            self._connections.append(conn)
        return conn

    def reader(self) -> sqlite3.Connection:
        """This thread's read connection (due late commits are promoted first)."""
        self.promote()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    @contextmanager
    def snapshot(self) -> Iterator[tuple[sqlite3.Connection, int]]:
        """A private connection frozen on the world as of now, and that instant (µs).

        Changes committed after the instant are invisible through it: the basis of ``$export``'s
        ``transactionTime``. Close it promptly: it pins the WAL while open.
        """
        conn = self._connect()
        try:
            with self._write_lock:
                instant = self.promote()
                conn.execute("BEGIN")
                conn.execute("SELECT count(*) FROM meta").fetchone()
            yield conn, instant
        finally:
            conn.rollback()
            with self._connections_lock:
                self._connections.remove(conn)
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The writer connection inside ``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back on error)."""
        with self._write_lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise
            self._writer.execute("COMMIT")

    # --- metadata -----------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.reader().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def is_complete(self) -> bool:
        return self.get_meta("schema_version") == SCHEMA_VERSION and self.get_meta("complete") == "1"

    def load_ids(self) -> IdAllocator:
        text = self.get_meta("ids")
        return IdAllocator.loads(text) if text else IdAllocator()

    # --- writing ------------------------------------------------------------------------------------
    def record_change(self, change: Change, ids: IdAllocator) -> int:
        """Journal ``change`` and apply it now, or keep it pending until ``change.visible_at``."""
        with self.transaction() as conn:
            change_id = int(conn.execute("SELECT coalesce(max(change_id), 0) + 1 FROM change_log").fetchone()[0])
            self._journal(conn, change_id, change)
            set_meta(conn, "ids", ids.dumps())
            if change.visible_at <= self.clock():
                self._apply(conn, change_id, change)
            else:
                payload = {
                    "id": change_id,
                    "kind": change.kind,
                    "made_at": change.made_at,
                    "visible_at": change.visible_at,
                    "writes": [[w.resource, w.establishment] for w in change.writes],
                    "deletions": change.deletions,
                }
                conn.execute(
                    "INSERT INTO pending (visible_at, payload) VALUES (?, ?)",
                    (change.visible_at, orjson.dumps(payload)),
                )
                self._next_due = min(self._next_due or change.visible_at, change.visible_at)
                self._pending_keys.update(_keys_of(change))
        return change_id

    def promote(self) -> int:
        """Make the late commits that are due visible; returns the instant used as "now"."""
        now = self.clock()
        if self._next_due is None or self._next_due > now:
            return now
        with self.transaction() as conn:
            rows = conn.execute(
                "SELECT seq, payload FROM pending WHERE visible_at <= ? ORDER BY visible_at, seq", (now,)
            ).fetchall()
            for seq, payload in rows:
                data = orjson.loads(payload)
                change = Change(
                    data["kind"],
                    data["made_at"],
                    data["visible_at"],
                    [ResourceWrite(resource, eg) for resource, eg in data["writes"]],
                    [(t, i) for t, i in data["deletions"]],
                )
                self._apply(conn, data["id"], change)
                conn.execute("DELETE FROM pending WHERE seq = ?", (seq,))
        self._next_due = self._first_pending()
        self._pending_keys = self._load_pending_keys()
        return now

    def _apply(self, conn: sqlite3.Connection, change_id: int, change: Change) -> None:
        written = [(w.resource["resourceType"], w.resource["id"]) for w in change.writes]
        touched = set(written) | set(change.deletions)
        affected = apply.dependants(conn, [*written, *change.deletions])
        apply.delete(conn, change.deletions)
        apply.upsert(conn, change.writes, change.visible_at)
        affected |= apply.dependants(conn, written)
        for key in apply.refresh_contexts(conn, sorted(affected)):
            if key not in touched:
                apply.bump(conn, key, change.made_at, change.visible_at)
                establishment = self._establishment(conn, key)
                conn.execute(
                    "INSERT INTO change_log (change_id, kind, action, rtype, id, eg, made_at, visible_at)"
                    " VALUES (?, ?, 'touch', ?, ?, ?, ?, ?)",
                    (change_id, change.kind, *key, establishment, change.made_at, change.visible_at),
                )

    def _journal(self, conn: sqlite3.Connection, change_id: int, change: Change) -> None:
        rows = [
            (change_id, change.kind, "put", w.resource["resourceType"], w.resource["id"], w.establishment)
            for w in change.writes
        ]
        rows += [(change_id, change.kind, "delete", *key, self._establishment(conn, key)) for key in change.deletions]
        conn.executemany(
            "INSERT INTO change_log (change_id, kind, action, rtype, id, eg, made_at, visible_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(*row, change.made_at, change.visible_at) for row in rows],
        )

    @staticmethod
    def _establishment(conn: sqlite3.Connection, key: Key) -> str | None:
        row = conn.execute("SELECT eg FROM resource WHERE rtype = ? AND id = ?", key).fetchone()
        return None if row is None else row[0]

    def _first_pending(self) -> int | None:
        row = self._writer.execute("SELECT min(visible_at) FROM pending").fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def _load_pending_keys(self) -> set[Key]:
        keys: set[Key] = set()
        for (payload,) in self._writer.execute("SELECT payload FROM pending"):
            data = orjson.loads(payload)
            keys.update((resource["resourceType"], resource["id"]) for resource, _ in data["writes"])
            keys.update((t, i) for t, i in data["deletions"])
        return keys

    def has_pending(self, key: Key) -> bool:
        """Whether a late commit on ``key`` is not visible yet (the change feed leaves such resources alone)."""
        return key in self._pending_keys

    # --- reading ------------------------------------------------------------------------------------
    def get(self, resource_type: str, resource_id: str, conn: sqlite3.Connection | None = None) -> WorldResource | None:
        row = (
            (conn or self.reader())
            .execute(
                f"SELECT {RESOURCE_COLUMNS} FROM resource WHERE rtype = ? AND id = ?", (resource_type, resource_id)
            )
            .fetchone()
        )
        return None if row is None else WorldResource.from_row(row)

    def find_by_identifier(
        self, resource_type: str, value: str, system: str | None = None, conn: sqlite3.Connection | None = None
    ) -> WorldResource | None:
        """The first visible resource of ``resource_type`` with an identifier ``value`` (on ``system`` if given)."""
        sql = (
            f"SELECT {resource_columns('r')} FROM token t JOIN resource r ON r.pk = t.pk"
            " WHERE t.param = 'identifier' AND t.code = ? AND r.rtype = ?"
        )
        params: list[str] = [value, resource_type]
        if system is not None:
            sql += " AND t.system = ?"
            params.append(system)
        row = (conn or self.reader()).execute(sql + " ORDER BY r.pk LIMIT 1", params).fetchone()
        return None if row is None else WorldResource.from_row(row)

    def by_pks(self, pks: Sequence[int], conn: sqlite3.Connection | None = None) -> list[WorldResource]:
        """Resources by pk, in the order given (pks no longer present are skipped)."""
        conn = conn or self.reader()
        found: dict[int, WorldResource] = {}
        for chunk in chunks(pks):
            rows = conn.execute(
                f"SELECT {RESOURCE_COLUMNS} FROM resource WHERE pk IN ({','.join('?' * len(chunk))})", chunk
            )
            for row in rows:
                found[int(row[0])] = WorldResource.from_row(row)
        return [found[pk] for pk in pks if pk in found]

    def iter_resources(
        self,
        resource_type: str | None = None,
        *,
        region: str | None = None,
        establishment: str | None = None,
        updated_since: int | None = None,
        committed_since: int | None = None,
        conn: sqlite3.Connection | None = None,
    ) -> Iterator[WorldResource]:
        """Stream visible resources (in pk order), optionally narrowed by type, region (TRE_R30 code), EG,
        ``meta.lastUpdated >= updated_since`` or visibility ``committed_at >= committed_since`` (µs)."""
        clauses, params = [], []
        for column, value in (
            ("rtype = ?", resource_type),
            ("region = ?", region),
            ("eg = ?", establishment),
            ("last_updated >= ?", updated_since),
            ("committed_at >= ?", committed_since),
        ):
            if value is not None:
                clauses.append(column)
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        cursor = (conn or self.reader()).execute(f"SELECT {RESOURCE_COLUMNS} FROM resource {where} ORDER BY pk", params)
        for row in cursor:
            yield WorldResource.from_row(row)

    def referrers(self, target_type: str, target_id: str, parameter: str, source_type: str) -> list[WorldResource]:
        """Resources of ``source_type`` whose reference ``parameter`` (a search parameter name such as
        ``location`` or ``service``) points to ``target_type/target_id``."""
        rows = self.reader().execute(
            f"SELECT {resource_columns('s')}"
            " FROM link l JOIN resource s ON s.pk = l.pk"
            " WHERE l.dst_type = ? AND l.dst_id = ? AND l.param = ? AND s.rtype = ? ORDER BY s.pk",
            (target_type, target_id, parameter, source_type),
        )
        return [WorldResource.from_row(row) for row in rows]

    def sample(self, resource_type: str, rng: random.Random) -> WorldResource | None:
        """A resource of ``resource_type`` picked at random: the first of its type from a random pk on
        (types are interleaved, so this is cheap at any scale). The change feed's pick."""
        conn = self.reader()
        high = conn.execute("SELECT max(pk) FROM resource").fetchone()[0]
        if high is None:
            return None
        start = rng.randint(1, high)
        for condition in ("pk >= ?", "pk < ?"):
            row = conn.execute(
                f"SELECT {RESOURCE_COLUMNS} FROM resource WHERE {condition} AND rtype = ? ORDER BY pk LIMIT 1",
                (start, resource_type),
            ).fetchone()
            if row is not None:
                return WorldResource.from_row(row)
        return None

    def count(self, resource_type: str | None = None) -> int:
        if resource_type is None:
            return int(self.reader().execute("SELECT count(*) FROM resource").fetchone()[0])
        return int(
            self.reader().execute("SELECT count(*) FROM resource WHERE rtype = ?", (resource_type,)).fetchone()[0]
        )

    def establishment_ids(self, region: str | None = None) -> list[str]:
        """Ids of every visible EG (Organizations that are their own establishment), optionally in one region."""
        sql = "SELECT id FROM resource WHERE rtype = 'Organization' AND eg = id"
        params: tuple[str, ...] = ()
        if region is not None:
            sql += " AND region = ?"
            params = (region,)
        return [row[0] for row in self.reader().execute(sql + " ORDER BY pk", params)]

    def establishment_of(self, resource_type: str, resource_id: str) -> str | None:
        """The EG a resource belongs to (stable for the resource's life; ``None`` for an EJ or an unknown id)."""
        return self._establishment(self.reader(), (resource_type, resource_id))

    def subtree(self, establishment_id: str) -> EstablishmentSubtree | None:
        """The EG, its EJ, its OIs, offers, locations, roles and practitioners (``None`` if the EG is gone)."""
        conn = self.reader()
        members = list(self.iter_resources(establishment=establishment_id, conn=conn))
        by_type: dict[str, list[Json]] = {}
        establishment: Json | None = None
        for member in members:
            body = member.json()
            if member.resource_type == "Organization" and member.resource_id == establishment_id:
                establishment = body
            else:
                by_type.setdefault(member.resource_type, []).append(body)
        if establishment is None:
            return None
        legal_entity = None
        parent = (establishment.get("partOf") or {}).get("reference", "")
        if parent.startswith("Organization/"):
            found = self.get("Organization", parent.removeprefix("Organization/"))
            legal_entity = found.json() if found else None
        return EstablishmentSubtree(
            legal_entity=legal_entity,
            establishment=establishment,
            internal_organizations=by_type.get("Organization", []),
            offers=by_type.get("HealthcareService", []),
            locations=by_type.get("Location", []),
            roles=by_type.get("PractitionerRole", []),
            practitioners=by_type.get("Practitioner", []),
        )

    def establishments_changed_since(self, since: int) -> set[str]:
        """EGs whose subtree changed (``meta.lastUpdated`` ≥ ``since``, µs), including through their EJ and
        through visible hard deletions made since then."""
        conn = self.reader()
        now = self.clock()
        found = {
            row[0]
            for resource_type in RESOURCE_TYPES
            for row in conn.execute(
                "SELECT DISTINCT eg FROM resource WHERE rtype = ? AND last_updated >= ? AND eg IS NOT NULL",
                (resource_type, since),
            )
        }
        found.update(
            row[0]
            for row in conn.execute(
                "SELECT eg.id FROM resource ej JOIN link l ON l.dst_type = 'Organization' AND l.dst_id = ej.id"
                " AND l.param = 'partof' JOIN resource eg ON eg.pk = l.pk AND eg.eg = eg.id"
                " WHERE ej.rtype = 'Organization' AND ej.eg IS NULL AND ej.last_updated >= ?",
                (since,),
            )
        )
        found.update(
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT eg FROM change_log WHERE action = 'delete' AND made_at >= ? AND visible_at <= ?"
                " AND eg IS NOT NULL",
                (since, now),
            )
        )
        return found

    def journal(self, since: int | None = None, *, action: str | None = None) -> list[LoggedChange]:
        """The world's journal of visible changes (``made_at >= since``), oldest first."""
        sql = "SELECT change_id, kind, action, rtype, id, eg, made_at, visible_at FROM change_log WHERE visible_at <= ?"
        params: list[Any] = [self.clock()]
        if since is not None:
            sql += " AND made_at >= ?"
            params.append(since)
        if action is not None:
            sql += " AND action = ?"
            params.append(action)
        rows = self.reader().execute(sql + " ORDER BY seq", params)
        return [LoggedChange(*row) for row in rows]

    def version(self, conn: sqlite3.Connection | None = None) -> tuple[int, int]:
        """Changes to the world so far: (visible journal lines, last of them). Equal versions, equal worlds."""
        row = (
            (conn or self.reader())
            .execute("SELECT count(*), coalesce(max(seq), 0) FROM change_log WHERE visible_at <= ?", (self.clock(),))
            .fetchone()
        )
        return int(row[0]), int(row[1])

    def deleted_keys(self) -> set[Key]:
        """Every (type, id) hard-deleted so far and not re-created (the real API never reports them)."""
        deleted = {(entry.resource_type, entry.resource_id) for entry in self.journal(action="delete")}
        return {key for key in deleted if self.get(*key) is None}


def resource_columns(alias: str) -> str:
    """:data:`RESOURCE_COLUMNS` qualified by a table alias, for joins."""
    return ", ".join(f"{alias}.{column.strip()}" for column in RESOURCE_COLUMNS.split(","))


def chunks(items: Sequence[T], size: int = 500) -> Iterator[Sequence[T]]:
    """``items`` in slices of ``size``: SQLite bounds the number of parameters of one statement."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


def _keys_of(change: Change) -> set[Key]:
    keys = {(w.resource["resourceType"], w.resource["id"]) for w in change.writes}
    keys.update(change.deletions)
    return keys
