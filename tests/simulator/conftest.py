"""Fixtures of the simulator tests: one tiny world built per session, copied for tests that change it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rorsync.simulator.world.generator import SCALES, build_world
from rorsync.simulator.world.store import WorldStore

TINY_SEED = 7


@pytest.fixture(scope="session")
def tiny_world_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("world") / "tiny-7.sqlite"
    build_world(path, SCALES["tiny"], TINY_SEED)
    return path


@pytest.fixture
def world(tiny_world_file: Path, tmp_path: Path) -> Iterator[WorldStore]:
    """A private copy of the tiny world (tests may change it)."""
    path = tmp_path / "world.sqlite"
    shutil.copyfile(tiny_world_file, path)
    store = WorldStore.open(path)
    yield store
    store.close()
