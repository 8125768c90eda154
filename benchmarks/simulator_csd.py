"""Time the CSD side of the simulator on an existing world: TR-Extraction, TR-Lecture, TR-Notif.

    PYTHONPATH=. python benchmarks/simulator_csd.py --scale national [--path FILE] [--profile 1]

The world file defaults to the cache file ``rorsync simulate`` uses (generate it first with
``benchmarks/simulator_world.py`` or ``rorsync simulate --scale national``: minutes and ~10 GB). The
reference measured in the same run is the ``tiny`` preset's extraction, so the ratio stays
meaningful on another machine. Peak RSS is this process's: it shows the extraction streams.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rorsync.policy.rules import PolicySettings
from rorsync.simulator.csd import documents
from rorsync.simulator.csd.establishment import render
from rorsync.simulator.csd.extraction import ExtractionCache
from rorsync.simulator.csd.requests import NotifRequest
from rorsync.simulator.csd.service import CsdService, CsdSettings
from rorsync.simulator.fhir.filtering import Redactor
from rorsync.simulator.world.files import default_world_path
from rorsync.simulator.world.generator import DEFAULT_ANCHOR, SCALES, build_world
from rorsync.simulator.world.instants import MICROS_PER_SECOND
from rorsync.simulator.world.store import WorldStore


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def extraction(world: WorldStore, profile: int, work_dir: Path) -> tuple[float, int, int, int]:
    """(seconds, ZIP bytes, parts, resources in the world)."""
    service = CsdService(world, Redactor(PolicySettings().rules()), CsdSettings())
    started = time.perf_counter()
    built = ExtractionCache(service, work_dir).build(profile)
    return time.perf_counter() - started, built.path.stat().st_size, built.parts, world.count()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", choices=list(SCALES), default="national")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--path", type=Path)
    parser.add_argument("--profile", type=int, default=1, choices=(0, 1, 2, 3))
    args = parser.parse_args()
    path = args.path or default_world_path(args.scale, args.seed)
    if not path.exists():
        sys.exit(f"{path} does not exist: generate it first (benchmarks/simulator_world.py --scale {args.scale})")

    with tempfile.TemporaryDirectory() as scratch:
        reference_path = Path(scratch) / "tiny.sqlite"
        build_world(reference_path, SCALES["tiny"], args.seed)
        reference = WorldStore.open(reference_path)
        ref_seconds, _, _, ref_count = extraction(reference, args.profile, Path(scratch) / "ref")
        reference.close()
        world = WorldStore.open(path)
        seconds, size, parts, count = extraction(world, args.profile, Path(scratch) / "x")
        print(f"TR-Extraction profile {args.profile}, {args.scale} ({count:,} resources)")
        print(f"  {seconds:.1f} s ({count / seconds:,.0f} resources/s), ZIP {size / 2**20:,.0f} MiB, {parts} parts")
        print(f"  reference tiny: {ref_count} resources in {ref_seconds:.2f} s ({ref_count / ref_seconds:,.0f}/s)")
        print(f"  peak RSS {peak_rss_mb():.0f} MB")

        service = CsdService(world, Redactor(PolicySettings().rules()), CsdSettings())
        establishments = world.establishment_ids()
        rng = random.Random(args.seed)
        timings = []
        for establishment_id in rng.sample(establishments, min(50, len(establishments))):
            started = time.perf_counter()
            found = world.get("Organization", establishment_id)
            view = service.view(found, args.profile) if found else None
            if view is not None:
                documents.lecture_response(render(service.nodes, view))
            timings.append(time.perf_counter() - started)
        median, longest = statistics.median(timings) * 1000, max(timings) * 1000
        print(f"  TR-Lecture of one EG: median {median:.0f} ms, max {longest:.0f} ms")
        for hours in (1, 24 * 7):
            since = DEFAULT_ANCHOR - hours * 3600 * MICROS_PER_SECOND
            started = time.perf_counter()
            body = service.notif(NotifRequest(since, frozenset(), frozenset()), args.profile)
            listed = body.count(b"etablissementReponseNotif>") // 2
            elapsed = time.perf_counter() - started
            print(f"  TR-Notif, dateRef {hours} h before the world's anchor: {listed} EGs in {elapsed:.1f} s")
        print(f"  peak RSS {peak_rss_mb():.0f} MB")
        world.close()


if __name__ == "__main__":
    main()
