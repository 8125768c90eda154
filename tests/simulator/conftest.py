"""Fixtures of the simulator tests: one tiny world built per session, copied for tests that change it."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from rorsync.simulator.server import Simulator
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


@pytest.fixture
def world_copy(tiny_world_file: Path, tmp_path: Path) -> Path:
    path = tmp_path / "sim-world.sqlite"
    shutil.copyfile(tiny_world_file, path)
    return path


@pytest.fixture
async def sim(world_copy: Path) -> AsyncIterator[Simulator]:
    async with Simulator(scale="tiny", seed=TINY_SEED, world_path=world_copy) as running:
        yield running


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session
