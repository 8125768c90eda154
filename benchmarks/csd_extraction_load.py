"""TR-Extraction complete load of a simulated ROR into SQLite: rorsync against plain ``lxml`` iterparse.

    PYTHONPATH=. python benchmarks/csd_extraction_load.py --world /work/worlds/national-7.sqlite \\
        --zip-cache /work/worlds/extraction-p1.zip

The local ROR builds the profile-1 TR-Extraction of the world once (about 10 to 25 minutes at the
national preset) into ``--zip-cache``; later runs reuse it. The ZIP is then served on 127.0.0.1 with
the simulator's headers (``Content-Disposition`` with the timestamped name), and each pipeline runs
in its own process, so that its wall time, CPU time and peak RSS are its own:

* **rorsync** — ``CsdEngine.initial_load()``: the ZIP downloaded, every part's SHA-256 checked against
  its sidecar, the parts streamed through the CSD parser and upserted (all tables, capacities,
  contacts, change log) into a fresh SQLite mirror, then the sweep and the cursor.
* **reference** — plain ``lxml.etree.iterparse`` over the same XML parts read from the same ZIP:
  end events of the five top-level objects, each cleared with its previous siblings.

Targets (issue 5): rorsync wall time ≤ 2× the reference; peak RSS ≤ 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from aiohttp import web
from lxml import etree

from benchmarks.children import WorkerWatch, print_rss, report, run_child
from rorsync.config import CsdSettings, HttpSettings, Settings
from rorsync.runtime import tune_for_bulk_loads
from rorsync.simulator.server import Simulator
from rorsync.store import migrate
from rorsync.store.engine import Database
from rorsync.store.status import collect_status
from rorsync.sync.csd import CsdEngine

OBJECTS = ("organization", "service", "facility", "provider", "device")
DIRECTORIES = {f"{name}Directory" for name in OBJECTS}


# --- children ------------------------------------------------------------------------------------------


async def child_rorsync(args: argparse.Namespace) -> None:
    tune_for_bulk_loads()  # as the rorsync command line does at start-up
    watch = WorkerWatch()
    db_path = Path(args.db)
    http = HttpSettings(read_timeout=dt.timedelta(minutes=10))
    settings = Settings(
        state_dir=db_path.parent / "state",
        database={"url": f"sqlite:///{db_path}", "batch_size": args.batch_size},
        csd=CsdSettings(enabled=True, endpoint=args.url, extraction_url=args.url, http=http),
    )
    db = Database(settings.database_url)
    await migrate.upgrade(db)
    engine = CsdEngine(settings, db)
    await engine.prepare()
    started = time.perf_counter()
    await engine.initial_load()
    wall = time.perf_counter() - started
    await engine.aclose()
    status = await collect_status(db)
    await db.close()
    report(watch=watch, wall_s=round(wall, 2), objects=sum(count.live for count in status.counts.values()))


def child_reference(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    count = 0
    with zipfile.ZipFile(args.zip) as archive:
        for name in sorted(n for n in archive.namelist() if n.lower().endswith(".xml")):
            with archive.open(name) as member:
                for _, element in etree.iterparse(member, events=("end",), tag=[f"{{*}}{o}" for o in OBJECTS]):
                    parent = element.getparent()
                    if parent is None or etree.QName(parent).localname not in DIRECTORIES:
                        continue
                    count += 1
                    element.clear(keep_tail=False)
                    while element.getprevious() is not None:
                        del parent[0]
    report(wall_s=round(time.perf_counter() - started, 2), objects=count)


# --- parent --------------------------------------------------------------------------------------------


def child(kind: str, args: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    return run_child(__file__, kind, "--batch-size", str(args.batch_size), **extra)


async def build_extraction(args: argparse.Namespace, cache: Path) -> None:
    print(f"building the profile-1 extraction of {args.world} into {cache} ...", file=sys.stderr)
    started = time.perf_counter()
    async with Simulator(scale=args.scale, seed=args.seed, world_path=Path(args.world)) as sim:
        built = await asyncio.get_running_loop().run_in_executor(None, sim.extractions.build, 1)
        shutil.copyfile(built.path, cache)
    cache.with_suffix(".name").write_text(built.filename)
    print(f"  built in {time.perf_counter() - started:.0f} s", file=sys.stderr)


async def serve(cache: Path) -> tuple[web.AppRunner, str]:
    filename = cache.with_suffix(".name").read_text().strip()

    async def extraction(_: web.Request) -> web.StreamResponse:
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f"attachment; filename={filename}",
        }
        return web.FileResponse(cache, headers=headers)

    app = web.Application()
    app.router.add_get("/V1/extraction/ExtractionOffresSante_Profil1", extraction)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/V1/extraction/ExtractionOffresSante_Profil1"


async def measure(args: argparse.Namespace, cache: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    runner, url = await serve(cache)
    loop = asyncio.get_running_loop()
    try:
        with tempfile.TemporaryDirectory(prefix="rorsync-bench-", dir=args.tmp) as tmp:
            ours = await loop.run_in_executor(
                None, lambda: child("rorsync", args, db=Path(tmp) / "mirror.sqlite", url=url)
            )
            reference = await loop.run_in_executor(None, lambda: child("reference", args, zip=cache))
    finally:
        await runner.cleanup()
    return ours, reference


def parent(args: argparse.Namespace) -> None:
    cache = Path(args.zip_cache)
    if not cache.exists():
        asyncio.run(build_extraction(args, cache))
    with zipfile.ZipFile(cache) as archive:
        parts = [info for info in archive.infolist() if info.filename.lower().endswith(".xml")]
    xml_mb = sum(info.file_size for info in parts) / 1e6
    print(f"extraction: {len(parts)} parts, {xml_mb:,.0f} MB of XML, ZIP {cache.stat().st_size / 1e6:,.0f} MB")
    ours, reference = asyncio.run(measure(args, cache))
    print(f"\n{'pipeline':<44}{'wall s':>9}{'XML MB/s':>10}{'objects':>11}{'CPU s':>9}{'peak RSS MB':>13}")
    for name, data in (
        ("rorsync (download, verify, parse, upsert)", ours),
        ("reference (plain lxml iterparse)", reference),
    ):
        wall, cpu, rss = data["wall_s"], data["cpu_s"], data["peak_rss_mb"]
        print(f"{name:<44}{wall:>9.1f}{xml_mb / wall:>10.1f}{data['objects']:>11,}{cpu:>9.1f}{rss:>13.0f}")
    print(f"\nrorsync / reference wall time: {ours['wall_s'] / reference['wall_s']:.2f}x   (target <= 2)")
    print_rss(ours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", default="/work/worlds/national-7.sqlite")
    parser.add_argument("--scale", default="national")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--zip-cache", default="/work/worlds/extraction-p1.zip")
    parser.add_argument("--tmp", default=None, help="where to put the mirror")
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--zip", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "reference":
        child_reference(args)
    elif args.child:
        asyncio.run(child_rorsync(args))
    else:
        parent(args)


if __name__ == "__main__":
    main()
