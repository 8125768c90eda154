"""What the per-profile views cost compared with reading the base tables directly.

Run by hand (not part of the test suite):
    PYTHONPATH=. python benchmarks/policy_views.py [DATABASE_URL] [--locations N]

Builds a synthetic mirror (default 5,000 locations, ~1.2 offers each, 6 capacity lines per
location, contacts on every offer) in a fresh SQLite file or the given (empty) PostgreSQL
database, then times typical reads through the views and the equivalent unfiltered reads on the
base tables, in the same run, and prints the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from rorsync.model import Source
from rorsync.policy.rules import PolicySettings
from rorsync.policy.views import ensure_views
from rorsync.store import migrate
from rorsync.store.engine import Database
from rorsync.store.upsert import WriteContext, apply_records
from tests import factories as f

QUERIES = {
    "beds available now in a region": (
        "SELECT count(*), sum(c.nb) FROM {p}capacity c JOIN {p}location l"
        " ON l.source = c.source AND l.resource_id = c.location_ref"
        " WHERE l.region = '24' AND c.status = '02' AND c.temporality = '01'",
        "SELECT count(*), sum(c.nb) FROM capacity c JOIN location l ON l.pk = c.location_pk"
        " WHERE l.region = '24' AND c.status = '02' AND c.temporality = '01'",
    ),
    "all capacity lines": ("SELECT count(*) FROM {p}capacity", "SELECT count(*) FROM capacity"),
    "all contacts": ("SELECT count(*) FROM {p}contact", "SELECT count(*) FROM contact"),
    "contacts of one offer": (
        "SELECT * FROM {p}contact WHERE owner_kind = 'offer' AND owner_ref = 's77'",
        "SELECT c.* FROM contact c JOIN offer o ON o.pk = c.owner_pk AND c.owner_entity = 'offer'"
        " WHERE o.resource_id = 's77'",
    ),
    "all offers with labels": ("SELECT count(*) FROM {p}offer", "SELECT count(*) FROM offer"),
    "change log tail (last 500)": (
        "SELECT * FROM {p}change_log WHERE seq > {last} ORDER BY seq",
        "SELECT * FROM change_log WHERE seq > {last} ORDER BY seq",
    ),
}


def synthetic(locations: int, seed: int = 7) -> list:  # type: ignore[type-arg]
    rng = random.Random(seed)
    records = []
    for i in range(locations):
        lines = [
            f.capacity(status, rng.randint(0, 30), temporality=temporality)
            for status in ("01", "02", "03", "06")
            for temporality in (("01", "02") if status == "02" else ("01",))
        ]
        records.append(f.location(f"l{i}", region=rng.choice(["24", "11", "84"]), capacities=lines))
    for i in range(int(locations * 1.2)):
        contacts = [
            f.telecom(f"0{i:09d}", contact_level=rng.choice([1, 2, 3]), telecom_level=rng.choice([1, 2, 3]))
            for _ in range(3)
        ]
        records.append(
            f.offer(
                f"s{i}",
                sensitive=rng.random() < 0.05,
                activity_field_code=rng.choice(["01", "02", "03", "04"]),
                location_refs=[f"l{rng.randrange(locations)}"],
                contacts=contacts,
                region=rng.choice(["24", "11", "84"]),
            )
        )
    return records


async def timed(db: Database, sql: str, repeat: int = 5) -> float:
    samples = []
    async with db.read() as conn:
        for _ in range(repeat):
            start = time.perf_counter()
            (await conn.execute(text(sql))).fetchall()
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


async def main(url: str, locations: int) -> None:
    db = Database(url)
    await migrate.upgrade(db)
    records = synthetic(locations)
    start = time.perf_counter()
    for batch in range(0, len(records), 2000):
        async with db.write() as conn:
            await apply_records(WriteContext(conn, Source.FHIR, f.T0), records[batch : batch + 2000])
    print(f"{db.dialect}: {len(records)} records written in {time.perf_counter() - start:.1f}s")
    if not db.is_sqlite:  # what autovacuum does after a load; SQLite mirrors run without statistics
        async with db.write() as conn:
            await conn.execute(text("ANALYZE"))
    start = time.perf_counter()
    await ensure_views(db, PolicySettings(p0_installed_capacity=True))
    print(f"views rebuilt in {time.perf_counter() - start:.2f}s")
    async with db.read() as conn:
        last = (await conn.execute(text("SELECT max(seq) - 500 FROM change_log"))).scalar_one()
    print(f"{'query':34} {'profile':>7} {'view ms':>9} {'table ms':>9} {'ratio':>6}")
    for name, (view_sql, table_sql) in QUERIES.items():
        base = await timed(db, table_sql.format(last=last))
        for profile in (1, 2, 3):
            through_view = await timed(db, view_sql.format(p=f"p{profile}_", last=last))
            print(f"{name:34} {profile:>7} {through_view * 1000:9.1f} {base * 1000:9.1f} {through_view / base:6.1f}")
    await db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("url", nargs="?", help="an empty database (default: a temporary SQLite file)")
    parser.add_argument("--locations", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(main(args.url or f"sqlite:///{Path(tmp) / 'bench.sqlite'}", args.locations))
