"""``$export`` in the ROR flavour: asynchronous jobs writing JSON Bundle files, never NDJSON.

A job freezes the world at its kick-off (``transactionTime``: later commits are not in it), then writes
each resource type as a series of ``collection`` Bundles of at most ``export_file_max_resources``
entries, streaming resource by resource, so neither the server nor a client ever holds more than one
file. Everything the caller's profile may not see is left out; what remains is redacted. The export
always holds the five types ("HealthcareService with all linked resources", whatever ``_type`` says);
``_typeFilter=HealthcareService?_tag=<system>|<code>`` narrows it to one region.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import Executor, Future
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import parse_qsl

import orjson

from rorsync.simulator.fhir.auth import Caller
from rorsync.simulator.fhir.outcome import FhirError
from rorsync.simulator.fhir.search import SEARCHABLE_TYPES
from rorsync.simulator.fhir.service import FhirService
from rorsync.simulator.world.elements import Json
from rorsync.simulator.world.instants import fhir_instant
from rorsync.sources.fhir import profile

JSON_FORMATS = frozenset({"application/fhir+json", "application/json", "json"})
MAX_JOBS = 16


@dataclass
class ExportFile:
    resource_type: str
    name: str
    count: int


@dataclass
class ExportJob:
    job_id: str
    caller: Caller
    request_url: str
    base_url: str
    region: str | None
    directory: Path
    polls: int = 0
    transaction_time: int | None = None
    files: list[ExportFile] = field(default_factory=list)
    cancelled: threading.Event = field(default_factory=threading.Event)
    future: Future[None] | None = None


@dataclass(frozen=True, slots=True)
class PollAnswer:
    """``manifest`` when the job is done and enough polls were answered, else ``retry_after`` seconds."""

    manifest: Json | None
    retry_after: int
    progress: str


class ExportManager:
    def __init__(self, service: FhirService, work_dir: Path, executor: Executor) -> None:
        self.service = service
        self.work_dir = work_dir
        self.executor = executor
        self._jobs: OrderedDict[str, ExportJob] = OrderedDict()
        self._lock = threading.Lock()

    def kick_off(self, caller: Caller, query: Iterable[tuple[str, str]], *, request_url: str, base_url: str) -> str:
        region = parse_kick_off(query)
        job_id = str(uuid.uuid4())
        directory = self.work_dir / job_id
        directory.mkdir(parents=True)
        job = ExportJob(job_id, caller, request_url, base_url, region, directory)
        with self._lock:
            self._jobs[job_id] = job
            while len(self._jobs) > MAX_JOBS:
                self._discard(self._jobs.popitem(last=False)[1])
        job.future = self.executor.submit(self._run, job)
        return job_id

    def poll(self, job_id: str, caller: Caller) -> PollAnswer:
        job = self._job(job_id, caller)
        settings = self.service.settings
        finished = job.future is not None and job.future.done()
        if finished and job.future is not None and job.future.exception() is not None:
            raise FhirError(500, "exception", f"export job {job_id} failed: {job.future.exception()}")
        job.polls += 1
        if not finished or job.polls <= settings.export_polls:
            written = sum(f.count for f in job.files)
            return PollAnswer(None, settings.export_retry_after, f"{written} resources written")
        return PollAnswer(self._manifest(job), 0, "complete")

    def file(self, job_id: str, name: str, caller: Caller) -> Path:
        job = self._job(job_id, caller)
        if job.future is None or not job.future.done() or name not in {f.name for f in job.files}:
            raise FhirError(404, "not-found", f"export job {job_id} has no file {name!r}")
        return job.directory / name

    def cancel(self, job_id: str, caller: Caller) -> None:
        job = self._job(job_id, caller)
        with self._lock:
            self._jobs.pop(job_id, None)
        self._discard(job)

    def close(self) -> None:
        with self._lock:
            jobs = list(self._jobs.values())
            self._jobs.clear()
        for job in jobs:
            self._discard(job)

    def _job(self, job_id: str, caller: Caller) -> ExportJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.caller.client_id != caller.client_id:
            raise FhirError(404, "not-found", f"export job {job_id!r} is not known")
        return job

    @staticmethod
    def _discard(job: ExportJob) -> None:
        job.cancelled.set()
        if job.future is not None and not job.future.cancel():
            with suppress(Exception):  # the job is being discarded: its failure no longer matters
                job.future.result()
        shutil.rmtree(job.directory, ignore_errors=True)

    def _manifest(self, job: ExportJob) -> Json:
        return {
            "transactionTime": fhir_instant(job.transaction_time or 0),
            "request": job.request_url,
            "requiresAccessToken": True,
            "output": [
                {
                    "type": f.resource_type,
                    "url": f"{job.base_url}/$export-get-file?_jobId={job.job_id}&_file={f.name}",
                    "count": f.count,
                }
                for f in job.files
            ],
            "error": [],
        }

    def _run(self, job: ExportJob) -> None:
        world, redactor = self.service.world, self.service.redactor
        limit = self.service.settings.export_file_max_resources
        with world.snapshot() as (conn, instant):
            job.transaction_time = instant
            for resource_type in SEARCHABLE_TYPES:
                writer = _BundleFiles(job, resource_type, limit)
                try:
                    for resource in world.iter_resources(resource_type, region=job.region, conn=conn):
                        if job.cancelled.is_set():
                            return
                        body = redactor.redact(resource, job.caller.profile)
                        if body is not None:
                            writer.add(f"{job.base_url}/{resource_type}/{resource.resource_id}", body)
                finally:
                    writer.close()


class _BundleFiles:
    """Consecutive ``<Type>-<n>.json`` collection Bundles of at most ``limit`` entries, written as they come."""

    def __init__(self, job: ExportJob, resource_type: str, limit: int) -> None:
        self.job = job
        self.resource_type = resource_type
        self.limit = limit
        self._handle: IO[bytes] | None = None
        self._current: ExportFile | None = None

    def add(self, full_url: str, body: Json) -> None:
        if self._current is None or self._current.count >= self.limit:
            self.close()
            self._open()
        assert self._handle is not None and self._current is not None
        if self._current.count:
            self._handle.write(b",")
        self._handle.write(orjson.dumps({"fullUrl": full_url, "resource": body}))
        self._current.count += 1

    def _open(self) -> None:
        number = sum(1 for f in self.job.files if f.resource_type == self.resource_type) + 1
        name = f"{self.resource_type}-{number}.json"
        self._handle = (self.job.directory / name).open("wb")
        head = {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "collection"}
        self._handle.write(orjson.dumps(head)[:-1] + b',"entry":[')
        self._current = ExportFile(self.resource_type, name, 0)

    def close(self) -> None:
        if self._handle is None or self._current is None:
            return
        self._handle.write(b"]}")
        self._handle.close()
        self.job.files.append(self._current)
        self._handle, self._current = None, None


def parse_kick_off(query: Iterable[tuple[str, str]]) -> str | None:
    """Check the kick-off parameters; returns the region a ``_typeFilter`` asks for, if any."""
    region: str | None = None
    for name, value in query:
        if name == "_outputFormat":
            if value not in JSON_FORMATS:
                raise FhirError(400, "not-supported", f"_outputFormat={value}: the ROR exports JSON only, not NDJSON")
        elif name == "_type":
            unknown = [kind for kind in value.split(",") if kind not in SEARCHABLE_TYPES]
            if unknown:
                raise FhirError(400, "not-supported", f"_type: unknown resource type(s) {', '.join(unknown)}")
        elif name == "_typeFilter":
            region = _region_filter(value)
        elif name != "includeAssociatedData":
            raise FhirError(400, "not-supported", f"$export parameter {name!r} is not supported")
    return region


def _region_filter(value: str) -> str:
    resource_type, _, query = value.partition("?")
    filters = parse_qsl(query)
    if resource_type not in SEARCHABLE_TYPES or [name for name, _ in filters] != ["_tag"]:
        raise FhirError(400, "not-supported", f"_typeFilter={value}: only <Type>?_tag=<region> is supported")
    system, _, code = filters[0][1].rpartition("|")
    if system not in ("", profile.REGION_TAG_SYSTEM) or not code:
        raise FhirError(400, "invalid", f"_typeFilter={value}: _tag must be a TRE_R30 region")
    return code
