"""Shared test fixtures: where the reference material lives, and the PostgreSQL server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ANS reference material beside the checkout (CI always has it: a missing copy fails there)."""
    if not SHARED.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"reference material not found at {SHARED}")
        pytest.skip(f"reference material not found at {SHARED}")
    return SHARED
