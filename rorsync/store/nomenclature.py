"""The nomenclature tables the views join for labels: seeded from the package, replaced by imports.

``rorsync db upgrade`` seeds every table the package carries (``rorsync.codes``) when it is
missing, when it came from an older package, or when an imported copy is older than the package;
an imported table at least as new as the package is kept. ``rorsync nos import`` loads the public
NOS files (the published ZIP, or one ``.tabs`` file) and replaces the tables they hold, all in
one transaction, after the whole input has been parsed and checked: a bad file changes nothing.

A table's version is its "Date MàJ" (``YYYYMMDDhhmmss``); packaged tables carry the date of the
bundle they were derived from. JDV value sets may list one code twice (from two code systems):
like the package, the last label wins.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from sqlalchemy import String, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from rorsync import codes
from rorsync.codes.tabs import NosFormatError, NosTable, iter_tables
from rorsync.store import schema
from rorsync.store.engine import Database
from rorsync.store.upsert import chunked

PACKAGED_PREFIX = "packaged:"
CODE_LISTS = frozenset({"TRE", "JDV"})
_WIDTHS = {
    name: cast(String, schema.nomenclature.c[name].type).length or 0 for name in ("table_id", "code", "valid_until")
}


@dataclass(frozen=True, slots=True)
class TableContent:
    """One code table ready to store: codes → (label, valid_until)."""

    table_id: str
    name: str
    oid: str | None
    origin: str
    version: str | None
    codes: dict[str, tuple[str, str | None]]


@dataclass(frozen=True, slots=True)
class TableChange:
    table_id: str
    name: str
    previous_origin: str | None  # None: the table was not there
    origin: str
    added: int
    removed: int
    relabelled: int

    @property
    def changed(self) -> bool:
        return self.previous_origin is None or bool(self.added or self.removed or self.relabelled)


def packaged_version() -> str:
    """The bundle date of the packaged tables, as a table version (``20230614000000``)."""
    found = re.match(r"(\d{4})-(\d{2})-(\d{2})", codes.bundle())
    return "".join(found.groups()) + "000000" if found else "0"


def packaged_tables() -> list[TableContent]:
    version = packaged_version()
    contents = []
    for table in codes.tables():
        entries = {code: (label, table.valid_until.get(code)) for code, label in table.labels.items()}
        digest = hashlib.sha256(repr(sorted(entries.items())).encode()).hexdigest()[:12]
        origin = f"{PACKAGED_PREFIX}{codes.bundle()}#{digest}"
        contents.append(TableContent(table.table_id, table.name, table.oid, origin, version, entries))
    return contents


def _keeps(origin: str, version: str | None, packaged: TableContent) -> bool:
    """Whether a stored table (its origin and version) stays when seeding ``packaged``."""
    if origin.startswith(PACKAGED_PREFIX):
        return origin == packaged.origin
    return (version or "") >= (packaged.version or "")


def older_than_package(tables: Iterable[TableContent]) -> list[str]:
    """Ids of the given (imported) tables that the next seeding will replace by the packaged ones."""
    packaged = {table.table_id: table for table in packaged_tables()}
    return [
        table.table_id
        for table in tables
        if table.table_id in packaged and not _keeps(table.origin, table.version, packaged[table.table_id])
    ]


async def seed_packaged(db: Database) -> list[TableChange]:
    """Load the packaged tables the database lacks or holds in an older version."""
    async with db.write() as conn:
        catalog = schema.nomenclature_table
        stored = {
            table_id: (origin, version)
            for table_id, origin, version in await conn.execute(
                select(catalog.c.table_id, catalog.c.origin, catalog.c.version)
            )
        }
        wanted = [
            table
            for table in packaged_tables()
            if table.table_id not in stored or not _keeps(*stored[table.table_id], table)
        ]
        return [await _replace(conn, table) for table in wanted]


def read_nos_file(path: Path) -> list[TableContent]:
    """Parse and check a NOS ZIP or ``.tabs`` file; raises :class:`NosFormatError` naming file and line."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise NosFormatError(f"{path}: cannot be read: {error.strerror}") from error
    tables = [table for table in iter_tables(data, str(path)) if table.kind in CODE_LISTS and table.codes]
    if not tables:
        raise NosFormatError(f"{path}: no NOS code table (TRE or JDV file with codes) found")
    return [_checked(table, path.name) for table in tables]


def _checked(table: NosTable, origin: str) -> TableContent:
    where = f"{origin}: {table.name}"
    if len(table.table_id) > _WIDTHS["table_id"]:
        raise NosFormatError(f"{where}: table id {table.table_id!r} is longer than {_WIDTHS['table_id']} characters")
    entries: dict[str, tuple[str, str | None]] = {}
    for code in table.codes:
        if len(code.code) > _WIDTHS["code"] or len(code.valid_until or "") > _WIDTHS["valid_until"]:
            raise NosFormatError(f"{where}: code {code.code[:80]!r}: code or end date too long")
        entries[code.code] = (code.label, code.valid_until)
    return TableContent(table.table_id, table.name, table.oid or None, origin, table.updated, entries)


async def import_tables(db: Database, tables: Iterable[TableContent]) -> list[TableChange]:
    """Replace the given tables in one transaction; returns what changed, table by table."""
    async with db.write() as conn:
        return [await _replace(conn, table) for table in tables]


async def _replace(conn: AsyncConnection, table: TableContent) -> TableChange:
    codes_, catalog = schema.nomenclature, schema.nomenclature_table
    previous = (await conn.execute(select(catalog.c.origin).where(catalog.c.table_id == table.table_id))).scalar()
    stored = await conn.execute(select(codes_.c.code, codes_.c.label).where(codes_.c.table_id == table.table_id))
    old = dict(stored.all())
    await conn.execute(delete(codes_).where(codes_.c.table_id == table.table_id))
    await conn.execute(delete(catalog).where(catalog.c.table_id == table.table_id))
    await conn.execute(
        insert(catalog).values(
            table_id=table.table_id,
            name=table.name,
            oid=table.oid,
            origin=table.origin,
            version=table.version,
            loaded_at=dt.datetime.now(dt.UTC),
        )
    )
    rows = [
        {"table_id": table.table_id, "code": code, "label": label, "valid_until": until}
        for code, (label, until) in table.codes.items()
    ]
    for chunk in chunked(rows, 5000):
        await conn.execute(insert(codes_), list(chunk))
    new = {code: label for code, (label, _) in table.codes.items()}
    return TableChange(
        table.table_id,
        table.name,
        previous,
        table.origin,
        added=len(new.keys() - old.keys()),
        removed=len(old.keys() - new.keys()),
        relabelled=sum(1 for code in new.keys() & old.keys() if new[code] != old[code]),
    )
