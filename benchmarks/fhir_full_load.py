"""Full load of a simulated ROR over FHIR into SQLite: rorsync against a reference and against fhirpy.

    PYTHONPATH=. python benchmarks/fhir_full_load.py --world /work/worlds/national-7.sqlite --scale national

Every pipeline runs in its own process, so its wall time, CPU time and peak RSS are its own; the local
ROR (the simulator) runs in this parent process on the same machine. Printed, for the same data:

* **rorsync** — ``FhirEngine.initial_load()`` by ``$export``: kick-off, polling, every file downloaded,
  stream-parsed into records and upserted (all tables, capacity lines, contacts, change log) into a
  fresh SQLite mirror. Two wall times: the whole load, and from the moment the server's manifest is
  ready (the server-side generation of the export is the ROR's time, not rorsync's).
* **reference** — the same export files, already on disk, read with ``orjson.loads`` and inserted with
  plain ``sqlite3.executemany`` into one table (type, id, lastUpdated, region, body); run before and
  after rorsync, and the faster run counts (the machine's speed drifts).
* **fhirpy** — a loader a user might write with fhirpy: ``async for`` over paged searches of every
  type, rows inserted with ``sqlite3.executemany``. fhirpy has no ``$export``, so the simulator's
  10 000-result cap is lifted for it (``--fhirpy-limit N`` reads N/5 resources of each type, and each
  type's rate is applied to that type's size, said so in the output).
* **idle delta** — CPU time of one delta cycle (every type) on the loaded mirror with no change.

Targets (issue 4): rorsync wall ≤ 2× reference, rorsync ≥ 5× faster than fhirpy, peak RSS ≤ 300 MB,
idle delta < 50 ms CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from fhirpy import AsyncFHIRClient
from pydantic import SecretStr

from benchmarks.children import WorkerWatch, print_rss, report, run_child
from rorsync.config import FhirSettings, HttpSettings, RorHeaders, Settings
from rorsync.runtime import tune_for_bulk_loads
from rorsync.simulator.fhir.service import FhirSettings as SimulatorSettings
from rorsync.simulator.server import Simulator
from rorsync.sources.fhir.client import FhirClient
from rorsync.store import migrate
from rorsync.store.engine import Database
from rorsync.store.status import collect_status
from rorsync.sync.fhir import FhirEngine

TYPES = ("Organization", "HealthcareService", "Location", "PractitionerRole", "Practitioner")


# --- children ------------------------------------------------------------------------------------------


def _settings(args: argparse.Namespace, state_dir: Path, db_path: Path) -> Any:

    connection = json.loads(args.connection)
    return Settings(
        state_dir=state_dir,
        database={"url": f"sqlite:///{db_path}", "batch_size": args.batch_size},
        fhir=FhirSettings(
            enabled=True,
            base_url=connection["base_url"],
            token_url=connection["token_url"],
            client_id=connection["client_id"],
            client_secret=SecretStr(connection["client_secret"]),
            profile=1,
            headers=RorHeaders(**connection["headers"]),
            http=HttpSettings(read_timeout=dt.timedelta(minutes=10)),
        ),
    )


async def child_rorsync(args: argparse.Namespace) -> None:
    tune_for_bulk_loads()  # as the rorsync command line does at start-up
    watch = WorkerWatch()
    db_path = Path(args.db)
    settings = _settings(args, db_path.parent / "state", db_path)
    db = Database(settings.database_url)
    await migrate.upgrade(db)
    ready: list[float] = []

    class TimedClient(FhirClient):
        async def wait_export(self, *a: Any, **k: Any) -> Any:
            manifest = await super().wait_export(*a, **k)
            ready.append(time.perf_counter())
            return manifest

    engine = FhirEngine(settings, db, client=TimedClient(settings.fhir))
    await engine.prepare()
    started = time.perf_counter()
    await engine.initial_load()
    ended = time.perf_counter()
    await engine.aclose()
    status = await collect_status(db)
    rows = sum(count.live for count in status.counts.values())
    await db.close()
    report(watch=watch, wall_s=round(ended - started, 2), after_manifest_s=round(ended - ready[0], 2), resources=rows)


async def child_delta(args: argparse.Namespace) -> None:
    tune_for_bulk_loads()
    db_path = Path(args.db)
    settings = _settings(args, db_path.parent / "state", db_path)
    db = Database(settings.database_url)
    engine = FhirEngine(settings, db)
    await engine.prepare()
    await engine.poll()  # warm-up: token, connection, imports
    cpu, wall = time.process_time(), time.perf_counter()
    await engine.poll()
    await engine.poll_capacity()
    cycle_cpu, cycle_wall = time.process_time() - cpu, time.perf_counter() - wall
    await engine.aclose()
    await db.close()
    report(cycle_cpu_ms=round(cycle_cpu * 1000, 1), cycle_wall_ms=round(cycle_wall * 1000, 1))


def child_reference(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    conn = sqlite3.connect(args.db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE resource (pk INTEGER PRIMARY KEY, rtype TEXT NOT NULL, id TEXT NOT NULL,"
        " last_updated TEXT NOT NULL, region TEXT, body BLOB NOT NULL, UNIQUE (rtype, id))"
    )
    count = 0
    for path in sorted(Path(args.files).glob("*.json")):
        bundle = orjson.loads(path.read_bytes())
        rows = []
        for entry in bundle["entry"]:
            res = entry["resource"]
            tags = res["meta"].get("tag") or [{}]
            rows.append(
                (res["resourceType"], res["id"], res["meta"]["lastUpdated"], tags[0].get("code"), orjson.dumps(res))
            )
        conn.executemany("INSERT INTO resource (rtype, id, last_updated, region, body) VALUES (?, ?, ?, ?, ?)", rows)
        conn.commit()
        count += len(rows)
    conn.close()
    report(wall_s=round(time.perf_counter() - started, 2), resources=count)


async def child_fhirpy(args: argparse.Namespace) -> None:

    connection = json.loads(args.connection)

    async with aiohttp.ClientSession() as session:
        form = {
            "grant_type": "client_credentials",
            "client_id": connection["client_id"],
            "client_secret": connection["client_secret"],
        }
        async with session.post(connection["token_url"], data=form) as response:
            token = (await response.json())["access_token"]
    headers = {
        "Ror-Profil-Utilisateur-Code": connection["headers"]["user_profile_code"],
        "Ror-Profil-Utilisateur-System": connection["headers"]["user_profile_system"],
        "Ror-Role-Metier-Code": connection["headers"]["role_code"],
        "Ror-Role-Metier-System": connection["headers"]["role_system"],
    }
    client = AsyncFHIRClient(connection["base_url"], authorization=f"Bearer {token}", extra_headers=headers)
    conn = sqlite3.connect(args.db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE resource (pk INTEGER PRIMARY KEY, rtype TEXT NOT NULL, id TEXT NOT NULL,"
        " last_updated TEXT NOT NULL, body BLOB NOT NULL, UNIQUE (rtype, id))"
    )
    per_type: dict[str, tuple[int, float]] = {}
    limit = args.fhirpy_limit // len(TYPES) or None
    for resource_type in TYPES:
        started, count, rows = time.perf_counter(), 0, []
        async for found in client.resources(resource_type).limit(200):
            body = found.serialize()
            rows.append((resource_type, body["id"], body["meta"]["lastUpdated"], json.dumps(body)))
            count += 1
            if len(rows) >= 2000 or count == limit:
                conn.executemany(
                    "INSERT OR REPLACE INTO resource (rtype, id, last_updated, body) VALUES (?, ?, ?, ?)", rows
                )
                conn.commit()
                rows = []
            if count == limit:
                break
        conn.executemany("INSERT OR REPLACE INTO resource (rtype, id, last_updated, body) VALUES (?, ?, ?, ?)", rows)
        conn.commit()
        per_type[resource_type] = (count, round(time.perf_counter() - started, 2))
    conn.close()
    report(
        wall_s=round(sum(seconds for _, seconds in per_type.values()), 2),
        resources=sum(count for count, _ in per_type.values()),
        per_type=per_type,
    )


# --- parent --------------------------------------------------------------------------------------------


def child(kind: str, args: argparse.Namespace, connection: dict[str, Any], **extra: Any) -> dict[str, Any]:
    options = ["--connection", json.dumps(connection), "--batch-size", str(args.batch_size)]
    return run_child(__file__, kind, *options, "--fhirpy-limit", str(args.fhirpy_limit), **extra)


async def download_export(connection: dict[str, Any], directory: Path, state: Path) -> int:

    settings = FhirSettings(
        enabled=True,
        base_url=connection["base_url"],
        token_url=connection["token_url"],
        client_id=connection["client_id"],
        client_secret=SecretStr(connection["client_secret"]),
        profile=1,
        headers=RorHeaders(**connection["headers"]),
        http=HttpSettings(read_timeout=dt.timedelta(minutes=10)),
    )
    async with FhirClient(settings) as client:
        status_url, kicked_off = await client.start_export(TYPES)
        manifest = await client.wait_export(status_url, kicked_off=kicked_off, give_up_after=dt.timedelta(hours=2))
        for index, output in enumerate(manifest.outputs):
            await client.download(output.url, directory / f"{index:05d}.json")
    return len(manifest.outputs)


async def parent(args: argparse.Namespace) -> None:

    settings = SimulatorSettings(export_polls=0, export_retry_after=1, result_cap=10**9)  # poll each second
    async with Simulator(scale=args.scale, seed=args.seed, world_path=Path(args.world), settings=settings) as sim:
        credentials = sim.credentials(1)
        headers = credentials.headers
        connection = {
            "base_url": sim.fhir_base_url,
            "token_url": sim.token_url,
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
            "headers": {
                "user_profile_code": headers["Ror-Profil-Utilisateur-Code"],
                "user_profile_system": headers["Ror-Profil-Utilisateur-System"],
                "role_code": headers["Ror-Role-Metier-Code"],
                "role_system": headers["Ror-Role-Metier-System"],
            },
        }
        total = sim.world.count()
        totals = {resource_type: sim.world.count(resource_type) for resource_type in TYPES}
        print(f"world: {args.scale}, {total} resources; simulator on {sim.origin}", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="rorsync-bench-", dir=args.tmp) as tmp:
            work = Path(tmp)
            loop = asyncio.get_running_loop()
            (work / "files").mkdir()
            files = await download_export(connection, work / "files", work)

            def reference() -> dict[str, Any]:
                return child("reference", args, connection, db=work / "reference.sqlite", files=work / "files")

            # The reference runs before and after rorsync, and the faster run counts: the machine's
            # speed drifts with its neighbours, and the ratio should not depend on which came first.
            before = await loop.run_in_executor(None, reference)
            (work / "reference.sqlite").unlink()
            ours = await loop.run_in_executor(
                None, lambda: child("rorsync", args, connection, db=work / "mirror.sqlite")
            )
            delta = await loop.run_in_executor(
                None, lambda: child("delta", args, connection, db=work / "mirror.sqlite")
            )
            after = await loop.run_in_executor(None, reference)
            fhirpy = None
            if not args.skip_fhirpy:
                fhirpy = await loop.run_in_executor(
                    None, lambda: child("fhirpy", args, connection, db=work / "fhirpy.sqlite")
                )
    faster = min(before, after, key=lambda run: float(run["wall_s"]))
    print(f"reference runs: {before['wall_s']} s before rorsync, {after['wall_s']} s after", file=sys.stderr)
    results = {"rorsync": ours, "reference": faster, "fhirpy": fhirpy, "delta": delta}
    print_summary(args, total, totals, files, results)


def fhirpy_time(fhirpy: dict[str, Any], totals: dict[str, int]) -> float:
    """fhirpy's time for the whole world: each type's measured rate applied to that type's size."""
    return sum(seconds * totals[kind] / max(count, 1) for kind, (count, seconds) in fhirpy["per_type"].items())


def print_summary(
    args: argparse.Namespace, total: int, totals: dict[str, int], files: int, results: dict[str, Any]
) -> None:
    ours, reference, fhirpy, delta = (results[k] for k in ("rorsync", "reference", "fhirpy", "delta"))
    print(f"\nFHIR full load, {args.scale} world: {total} resources, {files} export files")
    print(f"{'pipeline':<34}{'wall s':>9}{'res/s':>10}{'CPU s':>9}{'peak RSS MB':>13}")
    rows = [
        ("rorsync (whole load, incl. export)", ours["wall_s"], ours),
        ("rorsync (after manifest)", ours["after_manifest_s"], ours),
        ("reference (orjson + executemany)", reference["wall_s"], reference),
    ]
    fhirpy_full = None
    if fhirpy:
        fhirpy_full = fhirpy_time(fhirpy, totals)
        label = "fhirpy" if fhirpy["resources"] >= total else f"fhirpy ({fhirpy['resources']} read, extrapolated)"
        rows.append((label, fhirpy_full, fhirpy))
    for name, wall, data in rows:
        print(f"{name:<34}{wall:>9.1f}{total / wall:>10,.0f}{data['cpu_s']:>9.1f}{data['peak_rss_mb']:>13.0f}")
    print(
        f"\nrorsync / reference (after manifest): {ours['after_manifest_s'] / reference['wall_s']:.2f}x   (target <= 2)"
    )
    print(f"rorsync / reference (whole load):     {ours['wall_s'] / reference['wall_s']:.2f}x")
    if fhirpy_full:
        print(f"fhirpy / rorsync (whole load):        {fhirpy_full / ours['wall_s']:.1f}x   (target >= 5)")
    print_rss(ours)
    print(f"idle delta cycle: {delta['cycle_cpu_ms']} ms CPU, {delta['cycle_wall_ms']} ms wall   (target < 50 ms CPU)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", default="/work/worlds/national-7.sqlite")
    parser.add_argument("--scale", default="national")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tmp", default=None, help="where to put the mirrors and export files")
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--skip-fhirpy", action="store_true")
    parser.add_argument("--fhirpy-limit", type=int, default=0, help="stop fhirpy after N resources (0: all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--connection", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--files", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "reference":
        child_reference(args)
    elif args.child:
        asyncio.run({"rorsync": child_rorsync, "delta": child_delta, "fhirpy": child_fhirpy}[args.child](args))
    else:
        asyncio.run(parent(args))


if __name__ == "__main__":
    main()
