"""Parsing in a second process, so that a complete load parses and writes at the same time.

A complete load is CPU-bound on both sides: mapping a FHIR file or a CSD part to records costs about as
much Python time as writing them, and threads cannot overlap two Python workloads. One worker process
(spawned, never forked: the parent runs an event loop and database threads) runs the parsers; the
event loop receives their output in batches and writes, while the worker already parses the next
batch. Parsers stay pure functions of their input: the worker holds nothing but the generators it is
asked to run, and everything it returns is pickled records.

Workers are numbered *slots*, started on first use and shared by every load of the process. Each
runs one request at a time, in order, which is what lets a generator live in it across calls
(:class:`WorkerIterator`). Slot 0 serves every load and stays; a CSD extraction also reads its
parts in further slots, one generator per slot, stopped at the end of the load (see
``rorsync.sync.csd.complete``): a daemon does not keep idle parsers between weekly loads.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import multiprocessing
import os
import signal
import sys
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Generic, TypeVar

from rorsync.runtime import tune_garbage_collector

T = TypeVar("T")

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

_pools: dict[int, ProcessPoolExecutor] = {}
_generators: dict[str, Iterator[Any]] = {}  # in the worker: the generators being read


def _start_worker() -> None:
    """The worker's start-up: bulk-load garbage-collector settings, and no life beyond its parent.

    Ctrl-C reaches every process of the terminal's group: the worker ignores it (its parent stops it,
    instead of the worker printing a ``KeyboardInterrupt`` traceback). A parent killed outright
    (SIGKILL, OOM killer) cannot stop its children; on Linux the kernel signals the worker then
    (``PR_SET_PDEATHSIG``), instead of leaving it blocked on a pipe forever.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tune_garbage_collector()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() == 1:  # the parent died before the request took effect
            os._exit(1)


def worker(slot: int = 0) -> ProcessPoolExecutor:
    """The parsing worker of this process in ``slot``, started on first use."""
    pool = _pools.get(slot)
    if pool is None:
        context = multiprocessing.get_context("spawn")
        pool = _pools[slot] = ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_start_worker)
    return pool


def started_slots() -> list[int]:
    """The slots whose worker is running."""
    return sorted(_pools)


def shutdown_worker(*, broken: bool = False, slots: Iterable[int] | None = None) -> None:
    """Stop the workers of ``slots``, all by default (they start again at the next use; process exit
    stops them too). After a ``broken`` worker (killed, out of memory) they are only forgotten:
    nothing is left to wait for."""
    chosen = list(_pools) if slots is None else [slot for slot in slots if slot in _pools]
    for slot in chosen:
        _pools.pop(slot).shutdown(wait=not broken, cancel_futures=broken)


async def run_in_worker(function: Callable[..., T], *args: Any, slot: int = 0) -> T:
    """``function(*args)`` in the worker of ``slot``; its exceptions are raised here."""
    try:
        return await asyncio.wrap_future(worker(slot).submit(function, *args))
    except BrokenProcessPool:
        shutdown_worker(broken=True)
        raise


# --- generators living in the worker ---------------------------------------------------------------


def _open(handle: str, factory: Callable[..., Iterable[Any]], args: tuple[Any, ...]) -> None:
    _generators[handle] = iter(factory(*args))


def _next_batch(handle: str, size: int) -> list[Any]:
    generator = _generators.get(handle)
    if generator is None:  # it ended (or failed) while further batches were already requested
        return []
    try:
        batch = list(itertools.islice(generator, size))
    except BaseException:
        del _generators[handle]
        raise
    if not batch:
        del _generators[handle]
    return batch


def _close(handle: str) -> None:
    generator = _generators.pop(handle, None)
    close = getattr(generator, "close", None)
    if close is not None:
        close()


class WorkerIterator(Generic[T]):
    """The items of ``factory(*args)``, produced in the worker and received in batches.

    ``ahead`` batches are always requested ahead, so the worker parses batches *n + 1 … n + ahead*
    while the caller writes batch *n*: batches vary in cost on both sides, and with a single batch
    ahead either side often waited for the other (a tenth of the CSD load's time). At most
    ``ahead + 1`` batches exist at a time. Use as ``async with`` (the generator is closed in the
    worker however the loop ends)::

        async with WorkerIterator(read_extraction, extraction) as batches:
            async for batch in batches:
                ...
    """

    def __init__(
        self, factory: Callable[..., Iterable[T]], *args: Any, batch_size: int = 2000, ahead: int = 3, slot: int = 0
    ) -> None:
        self._factory, self._args, self._size, self._depth, self._slot = factory, args, batch_size, ahead, slot
        self._handle = uuid.uuid4().hex
        self._ahead: deque[Future[list[T]]] = deque()

    async def __aenter__(self) -> AsyncIterator[list[T]]:
        await run_in_worker(_open, self._handle, self._factory, self._args, slot=self._slot)
        return self._batches()

    async def __aexit__(self, *_: object) -> None:
        for pending in self._ahead:
            pending.cancel()
        with contextlib.suppress(BrokenProcessPool):  # a dead worker has nothing left to close
            await run_in_worker(_close, self._handle, slot=self._slot)

    def _request(self) -> Future[list[T]]:
        return worker(self._slot).submit(_next_batch, self._handle, self._size)

    async def _batches(self) -> AsyncIterator[list[T]]:
        while True:
            while len(self._ahead) < self._depth:
                self._ahead.append(self._request())
            try:
                batch = await asyncio.wrap_future(self._ahead.popleft())
            except BrokenProcessPool:
                shutdown_worker(broken=True)
                raise
            if not batch:
                return
            yield batch


async def merge_batches(streams: Sequence[AsyncIterator[list[T]]]) -> AsyncIterator[list[T]]:
    """The batches of several streams (workers), each as soon as it arrives.

    An error of any stream is raised here at once; the other streams are then left where they are
    (their ``WorkerIterator`` closes them).
    """
    pending = {asyncio.ensure_future(anext(stream)): stream for stream in streams}
    try:
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                stream = pending.pop(future)
                try:
                    batch = future.result()
                except StopAsyncIteration:
                    continue
                pending[asyncio.ensure_future(anext(stream))] = stream
                yield batch
    finally:
        for future in pending:
            future.cancel()
