"""The shipped unit passes systemd's own checks, with only the install path swapped for this venv."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "rorsync.service"
INSTALLED = "/opt/rorsync/venv/bin/rorsync"  # the install path documented in docs/operations.md

needs_systemd = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")


@pytest.fixture
def unit_copy(tmp_path: Path) -> Path:
    """The unit with its two Exec lines pointing to this interpreter (verify checks they exist)."""
    text = UNIT.read_text()
    assert re.findall(r"^Exec\w*=.*$", text, re.MULTILINE) == [
        f"ExecStartPre={INSTALLED} db upgrade",
        f"ExecStart={INSTALLED} run",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ]
    copy = tmp_path / "rorsync.service"
    copy.write_text(text.replace(INSTALLED, f"{sys.executable} -m rorsync"))
    return copy


def test_the_admin_wrapper_runs_commands_as_the_unit_does() -> None:
    unit = UNIT.read_text()
    wrapper = (ROOT / "systemd" / "rorsync-admin").read_text()
    for setting in re.findall(r"^((?:User|Group|StateDirectory|UMask|Environment|LoadCredential)=.*)$", unit, re.M):
        assert f"--property={setting}" in wrapper, setting
    assert f'{INSTALLED} "$@"' in wrapper


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True, timeout=60, check=False)


@needs_systemd
def test_the_unit_passes_systemd_analyze_verify(unit_copy: Path) -> None:
    result = analyze("verify", str(unit_copy))
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if "rorsync.service" in line]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr


@needs_systemd
def test_the_unit_exposure_level_is_at_most_2(unit_copy: Path) -> None:
    result = analyze("security", "--offline=yes", str(unit_copy))
    match = re.search(r"Overall exposure level for rorsync\.service: (\d+\.\d+)", result.stdout)
    assert match is not None, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0
