"""TR-Extraction: the whole offer for one profile as a ZIP of ``csd:CSD`` parts with SHA-256 sidecars (§7).

Built in bounded memory at national scale: establishments are read one at a time from a snapshot
of the world, rendered, and their top-level elements appended to one temporary file per directory;
when the next establishment would take the part over the size limit, the part is assembled
(``csd:CSD`` with the five directories, hashed while written), added to the ZIP with its ``.txt``
sidecar and deleted. An establishment never straddles two parts, and each part is a document of its
own: the EJ of an establishment is repeated in every part that holds one of its EGs.

One extraction per (profile, world version) is kept; a request for an unchanged world is served
from it. The ``corrupt_digest`` fault serves a copy whose first sidecar holds a wrong digest.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
import zipfile
from concurrent.futures import Executor, Future
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from lxml import etree

from rorsync.simulator.csd.establishment import DIRECTORY_NAMES, render
from rorsync.simulator.csd.nodes import CSD_NS
from rorsync.simulator.csd.service import CsdService
from rorsync.simulator.world.instants import PARIS, from_micros

NAME_PREFIX: Final = "ExtractionOffresSante_Profil"
_OPEN: Final = f'<?xml version="1.0" encoding="UTF-8"?>\n<csd:CSD xmlns:csd="{CSD_NS}">'.encode()
_CLOSE: Final = b"</csd:CSD>\n"
_CHUNK: Final = 1 << 20


def _tags(name: str) -> tuple[bytes, bytes]:
    return f"<csd:{name}>".encode(), f"</csd:{name}>".encode()


PART_OVERHEAD: Final = len(_OPEN) + len(_CLOSE) + sum(len(b"".join(_tags(name))) for name in DIRECTORY_NAMES)


class ExtractionTooLarge(ValueError):
    """One establishment alone does not fit in a part of the configured size."""


@dataclass(frozen=True, slots=True)
class BuiltExtraction:
    path: Path
    filename: str  # for Content-Disposition: ExtractionOffresSante_Profil<N>_<yyyyMMddHHmm>.zip
    version: tuple[int, int]
    parts: int


class _HashingWriter:
    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.target.write(data)


class _PartWriter:
    """Accumulates establishments into parts under ``limit`` bytes and adds finished parts to ``archive``."""

    def __init__(self, archive: zipfile.ZipFile, scratch: Path, base: str, limit: int) -> None:
        self.archive = archive
        self.scratch = scratch
        self.base = base
        self.limit = limit
        self.count = 0
        self._stack = ExitStack()
        self._files: list[IO[bytes]] = []
        self._size = PART_OVERHEAD
        self._seen: set[tuple[str, str]] = set()

    def _open(self) -> None:
        for _ in DIRECTORY_NAMES:
            scratch_file = tempfile.TemporaryFile(dir=self.scratch)  # noqa: SIM115 - closed by the exit stack
            self._files.append(self._stack.enter_context(scratch_file))

    def add(self, where: str, elements: list[tuple[int, etree._Element]]) -> None:
        """Append one establishment's elements (directory index, element), skipping those already in the part."""
        blobs = [
            (index, element.get("entityID", ""), etree.tostring(element, encoding="UTF-8", xml_declaration=False))
            for index, element in elements
        ]
        fresh = [(index, key, blob) for index, key, blob in blobs if (DIRECTORY_NAMES[index], key) not in self._seen]
        needed = sum(len(blob) for _, _, blob in fresh)
        if PART_OVERHEAD + sum(len(blob) for _, _, blob in blobs) >= self.limit:
            raise ExtractionTooLarge(f"establishment {where} alone needs more than the {self.limit}-byte part limit")
        if self._files and self._size + needed >= self.limit:
            self.flush()
            fresh = blobs
            needed = sum(len(blob) for _, _, blob in fresh)
        if not self._files:
            self._open()
        for index, key, blob in fresh:
            self._files[index].write(blob)
            self._seen.add((DIRECTORY_NAMES[index], key))
        self._size += needed

    def flush(self) -> None:
        if not self._files:
            return
        self.count += 1
        name = f"{self.base}_{self.count:03d}"
        path = self.scratch / f"{name}.xml"
        with path.open("wb") as target:
            writer = _HashingWriter(target)
            writer.write(_OPEN)
            for directory, source in zip(DIRECTORY_NAMES, self._files, strict=True):
                opening, closing = _tags(directory)
                writer.write(opening)
                source.seek(0)
                while chunk := source.read(_CHUNK):
                    writer.write(chunk)
                writer.write(closing)
            writer.write(_CLOSE)
        self.archive.write(path, f"{name}.xml")
        self.archive.writestr(f"{name}.txt", writer.sha256.hexdigest())
        path.unlink()
        self._stack.close()
        self._files = []
        self._size = PART_OVERHEAD
        self._seen.clear()


class ExtractionCache:
    """Builds and keeps the extraction of each CSD profile (thread-safe; blocking: run in an executor)."""

    def __init__(self, service: CsdService, work_dir: Path) -> None:
        self.service = service
        self.work_dir = work_dir
        self._built: dict[int, BuiltExtraction] = {}
        self._corrupted: dict[int, BuiltExtraction] = {}
        self._locks = {profile: threading.Lock() for profile in range(4)}
        self._jobs: dict[tuple[int, bool], Future[BuiltExtraction]] = {}
        self._jobs_lock = threading.Lock()

    def start(
        self, executor: Executor, access_profile: int, *, corrupt_digest: bool = False
    ) -> Future[BuiltExtraction]:
        """:meth:`get` in ``executor``, shared by concurrent callers: a national build takes minutes, and
        the HTTP handler waits for it only so long (csd-mev24 §7 declares a 503 for "not ready")."""
        key = (access_profile, corrupt_digest)
        with self._jobs_lock:
            job = self._jobs.get(key)
            if job is None or (job.done() and not self._current_result(job)):
                job = executor.submit(self.get, access_profile, corrupt_digest=corrupt_digest)
                self._jobs[key] = job
            return job

    def _current_result(self, job: Future[BuiltExtraction]) -> bool:
        return job.exception() is None and job.result().version == self.service.world.version()

    def get(self, access_profile: int, *, corrupt_digest: bool = False) -> BuiltExtraction:
        """The current extraction of ``access_profile`` (built if the world changed since the last one)."""
        with self._locks[access_profile]:
            built = self._current(access_profile)
            if not corrupt_digest:
                return built
            corrupted = self._corrupted.get(access_profile)
            if corrupted is None or corrupted.version != built.version:
                if corrupted is not None:
                    corrupted.path.unlink(missing_ok=True)
                corrupted = _corrupt(built, self.work_dir / f"corrupt-{built.path.name}")
                self._corrupted[access_profile] = corrupted
            return corrupted

    def _current(self, access_profile: int) -> BuiltExtraction:
        world = self.service.world
        previous = self._built.get(access_profile)
        if previous is not None and previous.version == world.version():
            return previous
        built = self.build(access_profile)
        self._built[access_profile] = built
        if previous is not None and previous.path != built.path:
            previous.path.unlink(missing_ok=True)
        return built

    def build(self, access_profile: int) -> BuiltExtraction:
        """A fresh extraction from a snapshot of the world (its instant names the file, in Paris time)."""
        world = self.service.world
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with world.snapshot() as (conn, instant), tempfile.TemporaryDirectory(dir=self.work_dir) as scratch:
            version = world.version(conn)
            stamp = from_micros(instant).astimezone(PARIS).strftime("%Y%m%d%H%M")
            base = f"{NAME_PREFIX}{access_profile}_{stamp}"
            partial = Path(scratch) / f"{base}.zip"
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
                parts = _PartWriter(archive, Path(scratch), base, self.service.settings.extraction_part_bytes)
                for establishment in world.iter_resources("Organization", conn=conn):
                    if establishment.establishment != establishment.resource_id:
                        continue
                    view = self.service.view(establishment, access_profile, conn)
                    if view is None:
                        continue
                    directories = render(self.service.nodes, view)
                    elements = [
                        (index, element) for index, found in enumerate(directories.lists()) for element in found
                    ]
                    parts.add(establishment.resource_id, elements)
                parts.flush()
            final = self.work_dir / f"{base}-v{version[0]}.zip"
            shutil.move(partial, final)
        return BuiltExtraction(final, f"{base}.zip", version, parts.count)


def _corrupt(built: BuiltExtraction, target: Path) -> BuiltExtraction:
    """A copy of ``built`` whose first sidecar holds the digest of something else."""
    with zipfile.ZipFile(built.path) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        tampered = False
        for info in source.infolist():
            if not tampered and info.filename.endswith(".txt"):
                copy.writestr(info.filename, hashlib.sha256(b"not this part").hexdigest())
                tampered = True
                continue
            with source.open(info) as member, copy.open(info.filename, "w") as out:
                shutil.copyfileobj(member, out, _CHUNK)
    return BuiltExtraction(target, built.filename, built.version, built.parts)
