"""Generate a simulator world at a scale and report time, file size, peak memory and counts.

    PYTHONPATH=. python benchmarks/simulator_world.py --scale national --path /tmp/national.sqlite [--serve]

``--serve`` then starts the simulator on that world and times a few representative calls (a paged
search, a capacity search, a regional ``$export``) while tracking peak RSS, to check the memory bound
when serving. The reference measured in the same run is the ``tiny`` preset, so ratios stay meaningful
on another machine.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp

from rorsync.simulator.fhir.service import FhirSettings
from rorsync.simulator.server import Simulator
from rorsync.simulator.world.generator import SCALES, build_world
from rorsync.simulator.world.store import WorldStore


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(scale: str, path: Path, seed: int) -> tuple[float, int]:
    started = time.perf_counter()
    last = [started]

    def progress(done: int) -> None:
        if time.perf_counter() - last[0] > 10:
            last[0] = time.perf_counter()
            print(
                f"  {done:>9} resources, {done / (last[0] - started):,.0f}/s, peak RSS {peak_rss_mb():.0f} MB",
                file=sys.stderr,
            )

    total = build_world(path, SCALES[scale], seed, progress=progress)
    return time.perf_counter() - started, total


async def serve(path: Path, scale: str, seed: int) -> None:
    settings = FhirSettings(export_polls=0, export_retry_after=1)
    async with (
        Simulator(scale=scale, seed=seed, world_path=path, settings=settings) as sim,
        aiohttp.ClientSession() as session,
    ):
        credentials = sim.credentials(1)
        form = {
            "grant_type": "client_credentials",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
        }
        async with session.post(sim.token_url, data=form) as response:
            headers = {"Authorization": f"Bearer {(await response.json())['access_token']}", **credentials.headers}

        async def timed(label: str, url: str, params: dict[str, str] | None = None) -> dict[str, object]:
            started = time.perf_counter()
            async with session.get(url, params=params, headers=headers) as response:
                body = await response.json(content_type=None)
            print(f"  {label:<45} {time.perf_counter() - started:7.2f} s  HTTP {response.status}")
            return body  # type: ignore[no-any-return]

        page = await timed("HealthcareService search (first page)", f"{sim.fhir_base_url}/HealthcareService")
        print(f"    total {page.get('total')}")
        await timed("Location?capacity-status=06", f"{sim.fhir_base_url}/Location", {"capacity-status": "06"})
        await timed("HealthcareService + includes", f"{sim.fhir_base_url}/HealthcareService", {
            "_include": "HealthcareService:organization", "_include:iterate": "Organization:partof",
            "_revinclude": "PractitionerRole:service"})  # fmt: skip
        started = time.perf_counter()
        query = {"_typeFilter": "HealthcareService?_tag=24"}
        async with session.get(f"{sim.fhir_base_url}/$export", params=query, headers=headers) as response:
            status_url = response.headers["Content-Location"]
        while True:
            async with session.get(status_url, headers=headers) as response:
                if response.status == 200:
                    manifest = await response.json()
                    break
            await asyncio.sleep(1)
        files = len(manifest["output"])
        count = sum(output["count"] for output in manifest["output"])
        label = f"$export region 24 ({count} resources, {files} files)"
        print(f"  {label:<45} {time.perf_counter() - started:7.2f} s")
        print(f"  peak RSS while serving {peak_rss_mb():.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", choices=list(SCALES), default="small")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--path", type=Path, required=True)
    parser.add_argument("--serve", action="store_true")
    args = parser.parse_args()

    reference_path = args.path.with_name("reference-tiny.sqlite")
    reference_seconds, reference_total = generate("tiny", reference_path, args.seed)
    reference_path.unlink()
    seconds, total = generate(args.scale, args.path, args.seed)
    size = args.path.stat().st_size
    store = WorldStore.open(args.path)
    counts = Counter(row[0] for row in store.reader().execute("SELECT rtype FROM resource"))
    store.close()
    print(f"scale {args.scale}, seed {args.seed}: {total:,} resources in {seconds:.1f} s ({total / seconds:,.0f}/s)")
    rate = reference_total / reference_seconds
    print(f"  reference tiny: {reference_total} resources in {reference_seconds:.2f} s ({rate:,.0f}/s)")
    print(f"  file {size / 2**20:,.0f} MiB ({size / total:,.0f} bytes/resource); peak RSS {peak_rss_mb():.0f} MB")
    for kind, count in sorted(counts.items()):
        print(f"  {kind:<18} {count:>9,}")
    if args.serve:
        asyncio.run(serve(args.path, args.scale, args.seed))


if __name__ == "__main__":
    main()
