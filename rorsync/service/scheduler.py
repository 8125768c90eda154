"""APScheduler 3.x timing for the engines' jobs.

Every job is added with ``max_instances=1`` and ``coalesce=True`` (a late or hung run never piles
up copies; agronholm/apscheduler#423) and a misfire grace, so runs missed while the machine slept
collapse into one. Interval jobs also run once as soon as they are scheduled: after a restart the
mirror catches up at once instead of one interval later. The per-run timeout is the lane's job.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from rorsync.logs import fields
from rorsync.model import Source
from rorsync.sync.engine import Job

logger = logging.getLogger("rorsync.service")

Fire = Callable[[Source, Job], Awaitable[None]]
CRON_MISFIRE_GRACE = dt.timedelta(hours=1)


def trigger_for(job: Job) -> BaseTrigger:
    if job.every is not None:
        return IntervalTrigger(seconds=job.every.total_seconds())
    assert job.cron is not None  # Job guarantees one of the two
    return CronTrigger.from_crontab(job.cron)


def misfire_grace(job: Job) -> dt.timedelta:
    """Run a late firing if it is less than one period late; later than that, the next one comes."""
    return job.every if job.every is not None else CRON_MISFIRE_GRACE


class JobScheduler:
    def __init__(self, fire: Fire) -> None:
        self._fire = fire
        self._scheduler = AsyncIOScheduler()

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def add(self, source: Source, job: Job) -> None:
        first_run = dt.datetime.now(dt.UTC) if job.every is not None else None
        scheduled = self._scheduler.add_job(
            self._fire,
            trigger_for(job),
            args=(source, job),
            id=job.name,
            name=job.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(misfire_grace(job).total_seconds())),
            replace_existing=True,
            **({"next_run_time": first_run} if first_run else {}),
        )
        logger.info(
            "job %s scheduled %s",
            job.name,
            f"every {job.every}" if job.every is not None else f"at {job.cron!r}",
            extra=fields(job=job.name, kind=job.kind, timeout=job.timeout, next_run=scheduled.next_run_time),
        )

    def run_now(self, name: str) -> None:
        """Fire a scheduled job at once (its trigger resumes afterwards), as if its time had come."""
        self._scheduler.modify_job(name, next_run_time=dt.datetime.now(dt.UTC))

    def remove(self, names: list[str]) -> None:
        for name in names:
            if self._scheduler.get_job(name) is not None:
                self._scheduler.remove_job(name)
