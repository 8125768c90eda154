"""What a /healthz or /metrics scrape costs the database (run by hand: python benchmarks/service_freshness.py).

Builds a SQLite mirror with national-scale capacity data (default 60 000 locations × 6 capacity lines)
and times :func:`rorsync.service.health.read_freshness`, the only database work of a scrape, against a
reference measured in the same run: a full ``count(*)`` of the capacity table.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sqlite3
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from rorsync.service.health import read_freshness
from rorsync.store import migrate, schema
from rorsync.store.engine import Database


def fill(path: Path, locations: int, lines: int) -> None:
    now = dt.datetime(2026, 1, 1)
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO location (pk, source, resource_id, last_updated, payload_hash, first_seen, last_seen,"
            " payload) VALUES (?, ?, ?, ?, 0, ?, ?, x'00')",
            ((i, "fhir" if i % 10 else "csd", f"L{i}", now, now, now) for i in range(1, locations + 1)),
        )
        conn.executemany(
            "INSERT INTO capacity (location_pk, capacity_type, status, temporality, gender, closing_type,"
            " additional_bed_type, crisis_type, temporary_assignment, nb, updated_at, observed_at)"
            " VALUES (?, ?, '01', '01', '', '', '', '', '01', 3, ?, ?)",
            (
                (i, f"{k:02d}", now + dt.timedelta(seconds=i * lines + k), now)
                for i in range(1, locations + 1)
                for k in range(lines)
            ),
        )


async def best_of(runs: int, work: object) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        await work()  # type: ignore[operator]
        timings.append(time.perf_counter() - started)
    return min(timings)


async def main(locations: int, lines: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "mirror.sqlite"
        db = Database(f"sqlite:///{path}")
        await migrate.upgrade(db)
        fill(path, locations, lines)

        async def reference() -> None:
            async with db.read() as conn:
                await conn.execute(select(func.count()).select_from(schema.capacity))

        async def scrape() -> None:
            await read_freshness(db, ["fhir", "csd"])

        reference_s = await best_of(5, reference)
        scrape_s = await best_of(5, scrape)
        await db.close()
    print(f"capacity lines: {locations * lines}")
    print(f"reference, count(*) of capacity: {reference_s * 1000:.1f} ms")
    print(f"read_freshness (one scrape):     {scrape_s * 1000:.1f} ms  ({scrape_s / reference_s:.1f}× the reference)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--locations", type=int, default=60_000)
    parser.add_argument("--lines", type=int, default=6)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.locations, arguments.lines))
