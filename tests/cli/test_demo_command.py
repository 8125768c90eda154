"""``rorsync demo`` as a new user runs it (bounded by --duration so the test ends by itself)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_the_demo_loads_the_local_ror_then_shows_live_changes_and_beds(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-m", "rorsync", "demo", "--scale", "tiny", "--duration", "20"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    output = done.stdout
    assert "Local ROR on http://127.0.0.1:" in output
    assert "beds available now (p2_capacity)" in output and "latest changes" in output
    final = output.rsplit("last runs", 1)[1]  # the last summary
    assert "full" in final and "ok" in final and "delta" in final
    assert "Demo stopped" in output and "Traceback" not in done.stderr
