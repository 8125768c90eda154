"""FHIR parser fixtures: the hand-written ROR resources under ``tests/fixtures/fhir``."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "fhir"

_CACHE: dict[str, dict[str, Any]] = {}


def read_fixture(name: str) -> dict[str, Any]:
    """A fresh copy of the fixture resource ``name`` (tests may change it)."""
    if name not in _CACHE:
        _CACHE[name] = orjson.loads((FIXTURES / name).read_bytes())
    return copy.deepcopy(_CACHE[name])


@pytest.fixture
def fixture_resource() -> Callable[[str], dict[str, Any]]:
    return read_fixture


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
