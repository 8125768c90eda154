"""Fixtures of the CSD tests: the ANS samples beside the checkout and our hand-edited copies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "csd"


@pytest.fixture(scope="session")
def samples_dir(shared_dir: Path) -> Path:
    return shared_dir / "ror" / "csd" / "samples"


@pytest.fixture(scope="session")
def sample(samples_dir: Path) -> Callable[[str], bytes]:
    """Bytes of one ANS sample by file stem, e.g. ``sample("Notif_Conformite_Cas1")``."""

    def read(stem: str) -> bytes:
        return (samples_dir / f"{stem}.xml").read_bytes()

    return read


@pytest.fixture(scope="session")
def fixture_bytes() -> Callable[[str], bytes]:
    def read(name: str) -> bytes:
        return (FIXTURES / name).read_bytes()

    return read
