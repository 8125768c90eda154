"""Database connections: one async engine, serialized write transactions, per-dialect tuning.

SQLite (the embedded default) runs in WAL mode so that local applications keep reading while the
mirror writes, with ``synchronous=NORMAL`` (a power loss may drop the last transactions, which the
next sync re-reads because cursors commit with their rows), a busy timeout and foreign keys on.
Write transactions start with ``BEGIN IMMEDIATE`` so two writers queue on the busy timeout instead
of failing on a lock upgrade.

PostgreSQL runs the same code through asyncpg. Every write transaction first takes a transaction
advisory lock: writers are serialized, which keeps the change-log sequence gap-free in commit
order, so a follower reading ``seq > last_seen`` never misses a row committed late.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

T = TypeVar("T")

WRITE_LOCK_KEY = 0x524F5253  # "RORS": the PostgreSQL advisory lock taken by every writer
_WRITE_OPTION = "rorsync_write"


class DatabaseUrlError(ValueError):
    """A database URL rorsync cannot use; the message says which and why."""


def normalize_url(url: str) -> URL:
    """Accept plain ``sqlite:///`` and ``postgresql://`` URLs and pick the async drivers."""
    try:
        parsed = make_url(url)
    except Exception as error:  # SQLAlchemy raises ArgumentError with a terse message
        raise DatabaseUrlError(f"not a database URL: {url!r} ({error})") from error
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise DatabaseUrlError(f"unsupported database {backend!r} in {url!r}: use sqlite:/// or postgresql://")


class Database:
    """The mirror database: an async engine plus the write discipline every writer follows."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 10_000, echo: bool = False) -> None:
        self.url = normalize_url(url)
        self.dialect = self.url.get_backend_name()
        connect_args: dict[str, Any] = {}
        if self.dialect == "sqlite":
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            connect_args["timeout"] = busy_timeout_ms / 1000
        self.engine: AsyncEngine = create_async_engine(self.url, echo=echo, connect_args=connect_args)
        self._write_lock = asyncio.Lock()
        if self.dialect == "sqlite":
            _tune_sqlite(self.engine, busy_timeout_ms)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def describe(self) -> str:
        """The URL with any password hidden, for logs and ``status``."""
        return self.url.render_as_string(hide_password=True)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed when the block ends normally, rolled back otherwise.

        In-process writers queue on an asyncio lock (SQLite allows one writer anyway); across
        processes, ``BEGIN IMMEDIATE`` (SQLite) or the advisory lock (PostgreSQL) does the same.
        """
        async with self._write_lock, self._transaction(write=True) as conn:
            if not self.is_sqlite:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY})
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only snapshot (deferred transaction on SQLite, so readers never block writers)."""
        async with self._transaction(write=False) as conn:
            yield conn

    @asynccontextmanager
    async def _transaction(self, *, write: bool) -> AsyncIterator[AsyncConnection]:
        """Connect, begin, then commit or roll back and close, whatever cancellation comes meanwhile.

        A task cancelled (per-run timeout, shutdown) while a BEGIN, COMMIT, ROLLBACK or close is in
        flight would otherwise abandon a connection whose statement still runs in aiosqlite's
        thread: SQLAlchemy gives up on it, and its open transaction keeps SQLite's write lock until
        garbage collection, stalling every later writer. These steps therefore always complete;
        the cancellation is honoured right after.
        """
        plain = self.engine.connect()
        try:
            await _complete(plain.start())
            conn = await plain.execution_options(**{_WRITE_OPTION: True}) if write else plain
            transaction = conn.begin()
            await _complete(transaction.start())
            try:
                yield conn
            except BaseException:
                await _complete(transaction.rollback())
                raise
            await _complete(transaction.commit())
        finally:
            await _complete(plain.close())

    async def close(self) -> None:
        await self.engine.dispose()


async def _complete(step: Awaitable[T]) -> T:
    """Await ``step`` to its end even if the caller is cancelled meanwhile, then re-raise the cancellation."""
    task = asyncio.ensure_future(step)
    cancelled = False
    while not task.done():
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return task.result()


def _tune_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver so that BEGIN can be IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            f"PRAGMA busy_timeout={int(busy_timeout_ms)}",
            "PRAGMA foreign_keys=ON",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "handle_error")
    def keep_cancelled_connections(context: ExceptionContext) -> None:
        # SQLAlchemy treats a cancellation during a statement like a lost connection and closes it,
        # while aiosqlite's thread still runs the statement: the close can leave the transaction,
        # and SQLite's write lock, open until garbage collection. aiosqlite runs a connection's
        # calls in order, so keeping it and rolling back afterwards (see _transaction) is safe.
        if isinstance(context.original_exception, asyncio.CancelledError):
            context.is_disconnect = False

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
