"""The parsing worker: generators read in batches in another process, in order, errors and early exits included."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rorsync.model import RecordError
from rorsync.sources.csd.errors import CsdServiceError
from rorsync.sources.fhir.errors import ResourceError
from rorsync.sync.offload import WorkerIterator, merge_batches, run_in_worker
from tests.conftest import ROOT

ORPHAN = """
import asyncio, os, signal
from rorsync.sync.offload import run_in_worker

async def main():
    print(await run_in_worker(os.getpid), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

if __name__ == "__main__":
    asyncio.run(main())
"""


def numbers(count: int, fail_at: int | None = None) -> Iterator[int]:
    for number in range(count):
        if number == fail_at:
            raise ValueError(f"bad input at item {number}")
        yield number


def recorded_errors(count: int) -> Iterator[RecordError]:
    for number in range(count):
        yield ResourceError(f"Location/{number}", "no id", b"{}", resource_type="Location", resource_id=str(number))


async def test_items_come_back_in_order_in_batches() -> None:
    async with WorkerIterator(numbers, 10, batch_size=3) as batches:
        received = [batch async for batch in batches]
    assert received == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


async def test_an_error_in_the_worker_is_raised_here_after_the_items_before_it() -> None:
    received: list[int] = []
    with pytest.raises(ValueError, match="bad input at item 5"):
        async with WorkerIterator(numbers, 10, 5, batch_size=2) as batches:
            async for batch in batches:
                received += batch
    assert received == [0, 1, 2, 3]


async def test_leaving_early_closes_the_generator_and_the_worker_goes_on_serving() -> None:
    async with WorkerIterator(numbers, 1_000_000, batch_size=10) as batches:
        async for batch in batches:
            assert batch[0] == 0
            break
    assert await run_in_worker(sum, [1, 2, 3]) == 6
    async with WorkerIterator(numbers, 3) as batches:
        assert [batch async for batch in batches] == [[0, 1, 2]]


async def test_slots_are_separate_processes_and_their_batches_merge_as_they_come() -> None:
    assert await run_in_worker(os.getpid, slot=0) != await run_in_worker(os.getpid, slot=1)
    async with (
        WorkerIterator(numbers, 5, batch_size=2, slot=0) as first,
        WorkerIterator(numbers, 3, batch_size=2, slot=1) as second,
    ):
        received = [batch async for batch in merge_batches([first, second])]
    assert sorted(received) == [[0, 1], [0, 1], [2], [2, 3], [4]]


async def test_an_error_of_one_merged_stream_is_raised_and_both_are_closed() -> None:
    with pytest.raises(ValueError, match="bad input at item 3"):
        async with (
            WorkerIterator(numbers, 1_000_000, batch_size=2, slot=0) as endless,
            WorkerIterator(numbers, 10, 3, batch_size=2, slot=1) as failing,
        ):
            async for _ in merge_batches([endless, failing]):
                pass
    assert await run_in_worker(sum, [1, 2], slot=0) == await run_in_worker(sum, [1, 2], slot=1) == 3


async def test_record_errors_and_service_errors_cross_processes_intact() -> None:
    async with WorkerIterator(recorded_errors, 2) as batches:
        [errors] = [batch async for batch in batches]
    assert [(e.where, e.reason, e.payload, e.resource_id) for e in errors if isinstance(e, ResourceError)] == [
        ("Location/0", "no id", b"{}", "0"),
        ("Location/1", "no id", b"{}", "1"),
    ]
    error = pickle.loads(pickle.dumps(CsdServiceError("444", "Non prévu sur la plateforme", "fault")))
    assert (error.code, error.message, error.form) == ("444", "Non prévu sur la plateforme", "fault")


CTRL_C = """
import asyncio, os, signal
from rorsync.sync.offload import run_in_worker

async def main():
    await run_in_worker(os.getpid)
    os.killpg(os.getpgrp(), signal.SIGINT)  # what Ctrl-C does: the whole process group
    await asyncio.sleep(1)

if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        print("interrupted")
"""


def process_state(pid: int) -> str | None:
    """The kernel's state letter for ``pid`` (``Z``: dead, not yet reaped), None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return None
    return next(line.split()[1] for line in status.splitlines() if line.startswith("State:"))


def run_script(path: Path, source: str, **options: Any) -> subprocess.CompletedProcess[str]:
    """Run ``source`` as the script ``path`` with rorsync importable; its exit status, stdout and stderr."""
    path.write_text(source)
    return subprocess.run(
        [sys.executable, str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        **options,
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_worker_dies_with_a_parent_killed_outright(tmp_path: Path) -> None:
    done = run_script(tmp_path / "orphan.py", ORPHAN)
    assert done.returncode == -signal.SIGKILL, done.stderr
    worker = int(done.stdout.split()[0])
    deadline = time.monotonic() + 10
    while process_state(worker) not in (None, "Z") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_state(worker) in (None, "Z"), "the worker outlived its parent"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups as on the Linux terminal")
def test_ctrl_c_stops_the_parent_and_the_worker_stays_quiet(tmp_path: Path) -> None:
    # its own process group, as a terminal gives a command
    done = run_script(tmp_path / "ctrl_c.py", CTRL_C, start_new_session=True)
    assert "interrupted" in done.stdout
    assert "KeyboardInterrupt" not in done.stderr and "_process_worker" not in done.stderr, done.stderr
