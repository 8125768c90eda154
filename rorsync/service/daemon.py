"""``rorsync run``: the long-running worker that keeps the mirror current.

Start-up: check the schema, close the runs and requeue the requests a dead predecessor left
behind, register a heartbeat, then bring each source up on its own (prepare the engine, run its
initial load if the mirror has nothing complete from it, retrying with back-off) and only then
schedule its jobs, so a failing source never holds the others back. Once running:

* jobs fire from APScheduler into lanes (:mod:`rorsync.service.lanes`): one run per lane at a time,
  a timeout per run, edge-triggered logging;
* manual resync requests are polled from the database (SIGUSR1 polls at once) and merged with the
  work already running (:mod:`rorsync.service.resync`);
* SIGHUP reloads the configuration (an invalid file is refused and the running one kept), SIGTERM
  and SIGINT stop: running work is cancelled, the journal records it as interrupted, and the store's
  transactions guarantee that no batch is half-written;
* systemd hears READY, STATUS, RELOADING, STOPPING and WATCHDOG from the event loop itself, so a
  blocked loop stops the pings and gets the service restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import web

from rorsync.config import ConfigError, Settings, load_settings
from rorsync.logs import configure_logging, fields
from rorsync.mirror import refresh_read_model
from rorsync.model import Source
from rorsync.policy.views import ensure_views
from rorsync.service import engines as engine_registry
from rorsync.service.health import (
    Freshness,
    SourceHealth,
    assess,
    health_document,
    read_freshness,
    refresh_gauges,
)
from rorsync.service.http import build_app, start_server
from rorsync.service.lanes import FULL_KINDS, Lane, Outcome, Work, lane_key
from rorsync.service.notify import Notifier, watchdog_period
from rorsync.service.resync import ResyncDispatcher, Target, resync_timeout
from rorsync.service.scheduler import JobScheduler
from rorsync.store.engine import Database
from rorsync.store.instances import (
    DAEMON,
    HEARTBEAT_INTERVAL,
    HEARTBEAT_TTL,
    Instance,
    beat,
    live_daemons,
    prune_dead,
    remove_instance,
    this_process,
)
from rorsync.store.migrate import require_current_schema
from rorsync.store.requests import requeue_requests, running_owners
from rorsync.store.state import close_abandoned_runs
from rorsync.sync.engine import Job, SourceEngine
from rorsync.sync.progress import Progress
from rorsync.sync.writer import Clock, utcnow

logger = logging.getLogger("rorsync.service")

_SERVICE_TASK_LIMIT = dt.timedelta(minutes=1)  # a heartbeat or a queue poll stuck longer than this fails


class DaemonExit(Exception):
    """Stop the daemon with this exit status (the message is logged)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Timings:
    """Internal rhythms, overridable by tests; the operator-facing ones live in the configuration."""

    request_poll: float = 2.0
    heartbeat: dt.timedelta = HEARTBEAT_INTERVAL
    heartbeat_ttl: dt.timedelta = HEARTBEAT_TTL
    retry_initial: float = 30.0  # back-off of a failing start-up or initial load
    retry_max: float = 30 * 60.0
    stop_grace: float = 8.0  # for cancelled runs to journal "interrupted"; systemd waits 15 s
    freshness_cache: float = 5.0


@dataclass
class _Source:
    """One enabled source in the running daemon."""

    engine: SourceEngine
    jobs: list[Job]
    up: bool = False
    prepared: bool = False
    bring_up: asyncio.Task[None] | None = None


class Daemon:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        config_path: Path | None = None,
        timings: Timings = Timings(),
        notifier: Notifier | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.settings = settings
        self.db = db
        self._config_path = config_path
        self._timings = timings
        self._notifier = notifier or Notifier()
        self._clock = clock
        self._instance: Instance = this_process(DAEMON, clock())
        self._sources: dict[Source, _Source] = {}
        self._lanes: dict[str, Lane] = {}
        self._progress_lines: dict[str, str] = {}
        self._scheduler = JobScheduler(self._fire)
        self._dispatcher = ResyncDispatcher(
            db, self, owner=self._instance.instance, debounce=settings.service.resync_debounce, clock=clock
        )
        self._background: set[asyncio.Task[Any]] = set()
        self._draining: set[asyncio.Task[None]] = set()  # replaced engines waiting for their runs to end
        self._registered = False
        self.started = asyncio.Event()  # set once start-up is done (when systemd hears READY=1)
        self._stop = asyncio.Event()
        self._stopping = False
        self._wake_requests = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._exit: DaemonExit | None = None
        self._http: web.AppRunner | None = None
        self._freshness: tuple[float, Freshness] | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT (or a fatal error); returns the process exit status."""
        loop = asyncio.get_running_loop()
        self._install_signals(loop)
        try:
            await self._start()
            await self._stop.wait()
        except DaemonExit as error:
            self._exit = error
        finally:
            await self._shutdown()
            self._remove_signals(loop)
        if self._exit is not None:
            logger.error("%s", self._exit, extra=fields(exit_status=self._exit.code))
            return self._exit.code
        logger.info("stopped")
        return 0

    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        self._spawn(self.reload(), "reload")

    def wake_requests(self) -> None:
        self._wake_requests.set()

    def fire_now(self, job_name: str) -> None:
        """Fire a scheduled job now through the scheduler, exactly as its trigger would (demo, tests)."""
        self._scheduler.run_now(job_name)

    async def _start(self) -> None:
        self._notifier.status("starting")
        await require_current_schema(self.db)
        await refresh_read_model(self.db, self.settings)
        now = self._clock()
        await self._refuse_second_daemon(now)
        await prune_dead(self.db, now=now, ttl=self._timings.heartbeat_ttl)
        closed = await close_abandoned_runs(self.db, now=now)
        dead_daemons = {owner for owner in await running_owners(self.db) if owner.startswith(f"{DAEMON}:")}
        requeued = await requeue_requests(self.db, picked_by=dead_daemons)
        await beat(self.db, self._instance, now=now)
        self._registered = True
        try:
            engines = engine_registry.build_engines(self.settings, self.db)
            self._http = await self._serve_http(self.settings.service.listen)
        except ConfigError as error:
            raise DaemonExit(str(error), 2) from error
        self._scheduler.start()
        for engine in engines:
            self._add_source(engine)
        self._spawn(self._every(self._timings.heartbeat.total_seconds(), "heartbeat", self._beat), "heartbeat")
        self._spawn(self._poll_requests(), "resync requests")
        if (period := watchdog_period()) is not None:
            self._spawn(self._watchdog(period), "watchdog")
        logger.info(
            "started",
            extra=fields(
                sources=",".join(s.value for s in self._sources) or "none",
                listen=self.settings.service.listen,
                database=self.db.describe(),
                closed_runs=closed,
                requeued_requests=requeued,
            ),
        )
        if not self._sources:
            logger.warning("no source is enabled: the daemon only serves health and metrics")
        self._notifier.ready(self._summary())
        self.started.set()

    async def _refuse_second_daemon(self, now: dt.datetime) -> None:
        for other in await live_daemons(self.db, now=now, ttl=self._timings.heartbeat_ttl):
            if other.instance == self._instance.instance or (other.local and not _process_exists(other.pid)):
                continue
            raise DaemonExit(
                f"another rorsync daemon ({other.instance}) is running on {self.db.describe()}: stop it first", 1
            )

    async def _serve_http(self, listen: str) -> web.AppRunner:
        try:
            return await start_server(build_app(self.health, self.refresh_gauges), listen)
        except OSError as error:
            raise ConfigError(f"service.listen: cannot listen on {listen}: {error.strerror or error}") from error

    async def _shutdown(self) -> None:
        self._notifier.stopping()
        if self.started.is_set():
            logger.info("stopping")
        self._stopping = True  # the scheduler stops asynchronously: a last firing must not start a run
        self._scheduler.shutdown()
        await self._cancel(self._background)
        await self._cancel([s.bring_up for s in self._sources.values() if s.bring_up])
        running = [task for lane in self._lanes.values() if (task := lane.cancel()) is not None]
        if running:
            _, late = await asyncio.wait(running, timeout=self._timings.stop_grace)
            if late:
                logger.warning("%d runs did not stop in time", len(late))
        await asyncio.gather(*self._draining)  # their lanes are idle now: replaced engines close
        await self._dispatcher.stop()
        for source in self._sources.values():
            await self._quietly(source.engine.aclose(), f"close the {source.engine.source.value} engine")
        if self._http is not None:
            await self._http.cleanup()
        if self._registered:
            await self._quietly(requeue_requests(self.db, picked_by=[self._instance.instance]), "requeue requests")
            await self._quietly(remove_instance(self.db, self._instance), "remove the heartbeat")
        self._notifier.close()

    async def _quietly(self, work: Awaitable[object], what: str) -> None:
        try:
            async with asyncio.timeout(2):
                await work
        except Exception as error:
            logger.warning("could not %s while stopping: %s", what, error)

    @staticmethod
    async def _cancel(tasks: Any) -> None:
        tasks = list(tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.add_signal_handler(signal.SIGTERM, self.request_stop)
        loop.add_signal_handler(signal.SIGINT, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        loop.add_signal_handler(signal.SIGUSR1, self.wake_requests)

    @staticmethod
    def _remove_signals(loop: asyncio.AbstractEventLoop) -> None:
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
            loop.remove_signal_handler(number)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(self._fatal_if_failed)
        return task

    def _fatal_if_failed(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        error = task.exception()
        self._exit = error if isinstance(error, DaemonExit) else DaemonExit(f"{task.get_name()} crashed: {error!r}", 1)
        self._stop.set()

    # --- sources ---------------------------------------------------------------------------------

    def _add_source(self, engine: SourceEngine) -> None:
        source = _Source(engine, engine.jobs())
        self._sources[engine.source] = source
        source.bring_up = asyncio.create_task(self._bring_up(source), name=f"{engine.source.value} start-up")
        source.bring_up.add_done_callback(self._fatal_if_failed)

    async def _bring_up(self, source: _Source) -> None:
        engine = source.engine
        name = engine.source.value
        needed = False

        async def prepare(_: Progress) -> None:
            nonlocal needed
            if not source.prepared:
                try:
                    await engine.prepare()
                except ConfigError as error:
                    raise DaemonExit(f"{name}: {error}", 2) from error
                source.prepared = True
            needed = await engine.initial_load_needed()

        start = self._lane(f"{name}:start", engine.source)
        await self._until_success(start, prepare, self.settings.schedule.run_timeout, f"{name} start-up")
        if needed:
            full = self._lane(lane_key(engine.source, "full", ""), engine.source)
            timeout = self.settings.schedule.full_load_timeout
            await self._until_success(full, engine.initial_load, timeout, f"{name} initial load", long=True)
        for job in source.jobs:
            self._scheduler.add(engine.source, job)
        source.up = True
        self._publish_status()
        self.wake_requests()

    async def _until_success(
        self, lane: Lane, work: Work, time_limit: dt.timedelta, description: str, *, long: bool = False
    ) -> None:
        delay = self._timings.retry_initial
        while True:
            outcome = await lane.submit(self._fatal_aware(work), timeout=time_limit, description=description, long=long)
            if outcome.succeeded:
                return
            if self._exit is not None:
                raise self._exit
            logger.info("%s: next attempt in %.0f s", description, delay, extra=fields(lane=lane.key))
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._timings.retry_max)

    def _fatal_aware(self, work: Work) -> Work:
        """Let a :class:`DaemonExit` raised by the work reach the daemon instead of a retry loop."""

        async def run(progress: Progress) -> None:
            try:
                await work(progress)
            except DaemonExit as error:
                self._exit = error
                self._stop.set()
                raise

        return run

    async def _fire(self, source: Source, job: Job) -> None:
        """A scheduled firing: run the job, unless equivalent work already runs in its lane."""
        if self._stopping:
            return
        lane = self._lane(lane_key(source, job.kind, job.name), source)
        if lane.busy:
            logger.debug("%s skipped: %s is running", job.name, lane.running, extra=fields(job=job.name))
            return
        # Stopping cancels the runs through their lanes; the firing itself just ends, quietly.
        with contextlib.suppress(asyncio.CancelledError):
            await lane.submit(job.run, timeout=job.timeout, description=job.name, long=job.kind in FULL_KINDS)

    def _lane(self, key: str, source: Source | None) -> Lane:
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = Lane(key, source, on_status=self._on_progress, clock=self._clock)
        return lane

    async def _retire(self, source: Source) -> None:
        """Stop scheduling an engine, and close it in the background once its running work has ended.

        A reload must not wait for a reconcile that may run for hours: the new engine's jobs start
        at once and skip their firings while the old run still holds the lane.
        """
        retired = self._sources.pop(source)
        self._scheduler.remove([job.name for job in retired.jobs])
        if retired.bring_up is not None:
            await self._cancel([retired.bring_up])
        draining = [lane for lane in self._lanes.values() if lane.source == source and lane.busy]
        task = asyncio.create_task(self._close_when_idle(retired.engine, draining), name=f"close old {source.value}")
        self._draining.add(task)
        task.add_done_callback(self._draining.discard)

    async def _close_when_idle(self, engine: SourceEngine, lanes: list[Lane]) -> None:
        try:
            await asyncio.gather(*(lane.idle() for lane in lanes))
        finally:
            await self._quietly(engine.aclose(), f"close the replaced {engine.source.value} engine")

    # --- resync requests (the ResyncHost protocol) -----------------------------------------------

    def enabled(self) -> list[Source]:
        return list(self._sources)

    def ready(self, source: Source) -> bool:
        return source in self._sources and self._sources[source].up

    def busy(self, target: Target) -> bool:
        lane = self._lanes.get(target.lane)
        return lane is not None and lane.busy

    def serve(self, target: Target) -> Awaitable[Outcome]:
        engine = self._sources[target.source].engine
        lane = self._lane(target.lane, target.source)
        waiting = lane.submit(
            partial(engine.resync, target.request),
            timeout=resync_timeout(self.settings, target.request),
            description=f"{target.source.value} resync: {target.request.describe()}",
            long=target.request.full,
        )
        return self._forget_when_done(target.lane, waiting)

    async def _forget_when_done(self, key: str, waiting: Awaitable[Outcome]) -> Outcome:
        """Lanes of targeted requests (one organization, one resource) are dropped after their run."""
        outcome = await waiting
        lane = self._lanes.get(key)
        if lane is not None and not lane.busy and key.count(":") > 1:
            del self._lanes[key]
        return outcome

    async def _poll_requests(self) -> None:
        lane = self._lane("service:requests", None)
        while True:
            await lane.submit(lambda _: self._dispatcher.dispatch_due(), timeout=_SERVICE_TASK_LIMIT, description="")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_requests.wait(), self._timings.request_poll)
            self._wake_requests.clear()

    # --- configuration reload --------------------------------------------------------------------

    async def reload(self) -> bool:
        """Apply the configuration file again; an invalid one is refused and the running one kept."""
        async with self._reload_lock:
            self._notifier.reloading()
            try:
                applied = await self._apply(load_settings(self._config_path))
            except ConfigError as error:
                logger.error("configuration reload refused, keeping the running configuration: %s", error)
                applied = False
            self._notifier.send("READY=1")
            self._publish_status()
            return applied

    async def _apply(self, new: Settings) -> bool:
        old = self.settings
        if new.database != old.database:
            logger.warning("database settings changed: they take effect when rorsync restarts")
        new_enabled = set(engine_registry.enabled_sources(new))
        rebuild = [
            s for s in new_enabled if s not in self._sources or engine_registry.engine_settings_changed(old, new, s)
        ]
        engines = engine_registry.build_engines(new, self.db, rebuild)  # may raise: nothing changed yet
        if (new.policy, new.feed_profile) != (old.policy, old.feed_profile) and await ensure_views(self.db, new):
            logger.info("policy views rebuilt for the new [policy] settings")
        if new.logging != old.logging:
            configure_logging(new.logging)
        if new.service.listen != old.service.listen:
            previous, self._http = self._http, await self._serve_http(new.service.listen)
            if previous is not None:
                await previous.cleanup()
        self.settings = new
        self._dispatcher.debounce = new.service.resync_debounce
        for source in [s for s in self._sources if s not in new_enabled or s in rebuild]:
            await self._retire(source)
        for engine in engines:
            self._add_source(engine)
        logger.info(
            "configuration reloaded",
            extra=fields(rebuilt=",".join(s.value for s in rebuild) or "none"),
        )
        return True

    # --- observability ---------------------------------------------------------------------------

    async def _freshness_now(self) -> Freshness:
        loop = asyncio.get_running_loop()
        if self._freshness is None or loop.time() - self._freshness[0] > self._timings.freshness_cache:
            self._freshness = (loop.time(), await read_freshness(self.db, [s.value for s in self._sources]))
        return self._freshness[1]

    def source_health(self, freshness: Freshness, now: dt.datetime) -> list[SourceHealth]:
        return [
            assess(
                source.value,
                up=state.up,
                lanes=[lane for lane in self._lanes.values() if lane.source == source],
                freshness=freshness,
                now=now,
                stale_after=self.settings.service.stale_after,
            )
            for source, state in self._sources.items()
        ]

    async def health(self) -> tuple[bool, dict[str, object]]:
        now = self._clock()
        sources = self.source_health(await self._freshness_now(), now)
        document = health_document(sources, now)
        document["daemon"] = {"instance": self._instance.instance, "started_at": self._instance.started_at.isoformat()}
        return all(s.healthy for s in sources), document

    async def refresh_gauges(self) -> None:
        refresh_gauges(await self._freshness_now(), self._clock())

    def _on_progress(self, key: str, line: str | None) -> None:
        if line is None:
            self._progress_lines.pop(key, None)
        else:
            self._progress_lines[key] = line
        self._publish_status()

    def _publish_status(self) -> None:
        self._notifier.status(" | ".join(self._progress_lines.values()) or self._summary())

    def _summary(self) -> str:
        """The idle STATUS line: each source's state in a few words."""
        if not self._sources:
            return "running, no source enabled"
        parts = []
        for source, state in self._sources.items():
            lanes = [lane for lane in self._lanes.values() if lane.source == source]
            failing = [lane.key for lane in lanes if lane.failing_since is not None]
            if failing:
                parts.append(f"{source.value} failing ({', '.join(failing)})")
            else:
                parts.append(f"{source.value} {'up' if state.up else 'starting'}")
        return "; ".join(parts)

    async def _beat(self) -> None:
        await beat(self.db, self._instance, now=self._clock())

    async def _every(self, seconds: float, name: str, action: Callable[[], Awaitable[None]]) -> None:
        lane = self._lane(f"service:{name}", None)
        while True:
            await asyncio.sleep(seconds)
            await lane.submit(lambda _: action(), timeout=_SERVICE_TASK_LIMIT, description="")

    async def _watchdog(self, period: float) -> None:
        while True:
            self._notifier.watchdog()
            await asyncio.sleep(period)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True
