"""Transport overhead, by hand: ``PYTHONPATH=. /work/venv/bin/python benchmarks/transport.py [MB]``.

Against an in-process server on 127.0.0.1, in the same run:
- download of one large body: rorsync ``HttpClient.download`` (temporary file, length check, fsync,
  rename) versus a reference loop of plain aiohttp ``iter_chunked`` writing to a file;
- small GETs (a FHIR page-sized JSON of 2 KB), 8 in flight: ``HttpClient.get`` (hooks, semaphore,
  tenacity, logging) versus plain ``session.get`` + ``read()``.
Prints MB/s, requests/s, ratios and the peak RSS growth during the download (bounded memory check).
"""

from __future__ import annotations

import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from rorsync.config import HttpSettings, TlsSettings
from rorsync.transport import HttpClient, StaticHeaders

CHUNK = b"\x00" * (1 << 20)
SMALL = b'{"resourceType": "Bundle", "entry": [' + b'{"x": 1},' * 200 + b"{}]}"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main(megabytes: int) -> None:
    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = megabytes * len(CHUNK)
        await response.prepare(request)
        for _ in range(megabytes):
            await response.write(CHUNK)
        return response

    async def small(request: web.Request) -> web.Response:
        return web.Response(body=SMALL, content_type="application/fhir+json")

    app = web.Application()
    app.router.add_get("/big", big)
    app.router.add_get("/small", small)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    settings = HttpSettings(max_concurrency=8)
    with tempfile.TemporaryDirectory() as directory:
        target = Path(directory) / "export.json"
        async with aiohttp.ClientSession() as session:
            started = time.perf_counter()
            async with session.get(base + "/big") as response:
                with target.open("wb") as file:
                    async for chunk in response.content.iter_chunked(256 * 1024):
                        file.write(chunk)
            reference = time.perf_counter() - started
        rss_before = peak_rss_mb()
        async with HttpClient("bench", settings, TlsSettings()) as http:
            started = time.perf_counter()
            await http.download(base + "/big", target)
            ours = time.perf_counter() - started
        rss_growth = peak_rss_mb() - rss_before
    print(
        f"download {megabytes} MB: reference {megabytes / reference:.0f} MB/s, rorsync {megabytes / ours:.0f} MB/s, "
        f"ratio {ours / reference:.2f}x, peak RSS growth {rss_growth:.1f} MB"
    )

    count = 4000
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=8)) as session:
        limit = asyncio.Semaphore(8)

        async def plain() -> None:
            async with limit, session.get(base + "/small") as response:
                await response.read()

        started = time.perf_counter()
        await asyncio.gather(*(plain() for _ in range(count)))
        reference = time.perf_counter() - started
    async with HttpClient("bench", settings, TlsSettings()) as http:
        api = http.with_hooks(StaticHeaders({"Ror-Role-Metier-Code": "AUTOMATE"}))
        started = time.perf_counter()
        await asyncio.gather(*(api.get(base + "/small") for _ in range(count)))
        ours = time.perf_counter() - started
    print(
        f"{count} small GETs: reference {count / reference:.0f} req/s, rorsync {count / ours:.0f} req/s, "
        f"ratio {ours / reference:.2f}x"
    )
    await server.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 500))
