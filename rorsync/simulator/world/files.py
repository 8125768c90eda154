"""Where world files live, and opening one: reuse a complete file, generate it otherwise."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from rorsync.simulator.world.generator import SCALES, build_world
from rorsync.simulator.world.instants import now_micros
from rorsync.simulator.world.store import WorldStore


def default_world_path(scale: str, seed: int) -> Path:
    """``$XDG_CACHE_HOME/rorsync/simulator/<scale>-<seed>.sqlite`` (``~/.cache`` by default)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "rorsync" / "simulator" / f"{scale}-{seed}.sqlite"


def open_world(
    path: Path,
    scale: str,
    seed: int,
    *,
    clock: Callable[[], int] = now_micros,
    fresh: bool = False,
    progress: Callable[[int], None] | None = None,
) -> WorldStore:
    """The world at ``path``; generated first when the file is missing, incomplete, of another scale or
    seed, or when ``fresh`` asks to start over (a reused file keeps the changes made by earlier runs)."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    if path.exists() and not fresh:
        store = WorldStore.open(path, clock=clock)
        if store.is_complete() and store.get_meta("scale") == scale and store.get_meta("seed") == str(seed):
            return store
        store.close()
    build_world(path, SCALES[scale], seed, progress=progress)
    return WorldStore.open(path, clock=clock)
