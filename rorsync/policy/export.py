"""Write one profile's views as JSON Lines or CSV, for tools that cannot be given a database role.

Rows are streamed from the database in batches (memory stays bounded whatever the view size) and
read through the typed view tables, so both backends write the same text: ISO 8601 instants in
UTC (``2026-01-01T08:30:00+00:00``), ISO dates, ``true``/``false``. Files are written under a
temporary name and renamed only when every requested view has been written: a failed export
leaves no partial file behind.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import select

from rorsync.policy.catalog import view_name
from rorsync.policy.views import view_table
from rorsync.store.engine import Database

BATCH_ROWS = 1000


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


@dataclass(frozen=True, slots=True)
class ExportedView:
    name: str
    rows: int
    path: Path | None  # None: written to the given stream


async def export_view(db: Database, profile: int, kind: str, fmt: ExportFormat, sink: IO[bytes]) -> ExportedView:
    """Stream one view to a binary stream; returns the row count."""
    view = view_table(profile, kind)
    names = [column.name for column in view.columns]
    write = _jsonl_writer(sink, names) if fmt is ExportFormat.JSONL else _csv_writer(sink, names)
    count = 0
    async with db.read() as conn:
        result = await conn.stream(select(view).execution_options(yield_per=BATCH_ROWS))
        async for batch in result.partitions(BATCH_ROWS):
            for row in batch:
                write(tuple(row))
            count += len(batch)
    sink.flush()
    return ExportedView(view.name, count, None)


async def export_views(
    db: Database, profile: int, kinds: Sequence[str], fmt: ExportFormat, directory: Path
) -> list[ExportedView]:
    """Write ``p{profile}_{kind}.{fmt}`` files into the existing ``directory``, all or none."""
    done: list[tuple[ExportedView, Path]] = []
    with ExitStack() as cleanup:
        for kind in kinds:
            temporary = directory / f".{view_name(profile, kind)}.{fmt.value}.{os.getpid()}.part"
            cleanup.callback(temporary.unlink, missing_ok=True)
            with temporary.open("wb") as handle:
                exported = await export_view(db, profile, kind, fmt, handle)
            done.append((exported, temporary))
        written = []
        for exported, temporary in done:
            target = directory / f"{exported.name}.{fmt.value}"
            os.replace(temporary, target)
            written.append(ExportedView(exported.name, exported.rows, target))
    return written


def _jsonl_writer(sink: IO[bytes], names: list[str]) -> Callable[[tuple[Any, ...]], None]:
    def write(row: tuple[Any, ...]) -> None:
        sink.write(orjson.dumps(dict(zip(names, row, strict=True)), option=orjson.OPT_APPEND_NEWLINE))

    return write


def _csv_writer(sink: IO[bytes], names: list[str]) -> Callable[[tuple[Any, ...]], None]:
    line = io.StringIO()
    writer = csv.writer(line)

    def write(row: tuple[Any, ...]) -> None:
        writer.writerow([_csv_value(value) for value in row])
        sink.write(line.getvalue().encode())
        line.seek(0)
        line.truncate()

    write(tuple(names))
    return write


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):  # datetimes too: aware UTC, ISO 8601 like the JSON output
        return value.isoformat()
    return str(value)
