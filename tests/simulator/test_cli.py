"""``rorsync simulate`` as a user runs it: banner with URLs and credentials, a working API, clean Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]


async def test_simulate_serves_until_interrupted(tiny_world_file: Path, tmp_path: Path) -> None:
    world = tmp_path / "world.sqlite"
    shutil.copyfile(tiny_world_file, world)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rorsync", "simulate", "--scale", "tiny", "--world", str(world), "--port", "0",
        "--client-secret", "s3cret", "--fault", "rate_limit:count=1,path=/Practitioner",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert process.stdout is not None
    banner = ""
    try:
        while "Ctrl-C to stop." not in banner:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
            assert line, "the simulator exited before printing its banner"
            banner += line.decode()
        base = re.search(r"FHIR base\s+(\S+)", banner)
        token_url = re.search(r"token endpoint\s+(\S+)", banner)
        assert base and token_url and "rorsync-sim-p0  secret s3cret" in banner
        form = {"grant_type": "client_credentials", "client_id": "rorsync-sim-p0", "client_secret": "s3cret"}
        headers = dict(re.findall(r"^\s+(Ror-[\w-]+): (\S+)$", banner, re.MULTILINE))
        assert len(headers) == 4
        async with aiohttp.ClientSession() as session:
            async with session.post(token_url.group(1), data=form) as response:
                headers["Authorization"] = f"Bearer {(await response.json())['access_token']}"
            async with session.get(f"{base.group(1)}/Organization", headers=headers) as response:
                assert response.status == 200 and (await response.json())["total"] > 0
            async with session.get(f"{base.group(1)}/Practitioner", headers=headers) as response:
                assert response.status == 429
    finally:
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), timeout=15) == 0
