"""Import of the weekly public XML extraction (profile 0, no certificate) into the ``public_xml`` source.

The file is the profile-0 TR-Extraction (csd-mev24 §13): a ZIP of CSD parts with SHA-256 sidecars,
read with the same verification and parser as the CSD source. A bare ``.xml`` file is accepted too;
having no digest, it is first read once for well-formedness, so a truncated download is refused
before a single record reaches the mirror.

Each import is a complete load of its source: once every record is stored, the rows of earlier
imports that this one did not hold are tombstoned (in the transaction of the last rows), and the
``import`` cursor records the extraction's time. Nothing else writes ``public_xml`` rows, so the
load's start is the right bound for the sweep.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from rorsync.config import HttpSettings, Settings, TlsSettings
from rorsync.model import Source
from rorsync.sources.csd.errors import ExtractionError
from rorsync.sources.csd.extraction import extraction_instant, time_of_name, verify_extraction
from rorsync.sources.csd.parse import check_document, iter_extraction_records
from rorsync.sources.csd.resolver import CsdResolver
from rorsync.sources.csd.xmlsafe import XmlLimits
from rorsync.store.engine import Database
from rorsync.store.state import format_instant
from rorsync.store.sweep import sweep_after_complete_load
from rorsync.store.upsert import WriteContext
from rorsync.sync.csd.complete import load_extraction, reader_count
from rorsync.sync.csd.context import log_warnings
from rorsync.sync.progress import NULL_PROGRESS, Progress
from rorsync.sync.runs import RunHandle, journaled_run
from rorsync.sync.writer import BatchWriter, Clock, run_writer, store_items, utcnow
from rorsync.transport import HttpClient, TransportObserver

IMPORT_STREAM = "import"
DOWNLOAD_SETTINGS = HttpSettings(read_timeout=dt.timedelta(minutes=10))


class ImportSourceError(ValueError):
    """The file to import does not exist (or is not a file)."""


@dataclass(frozen=True, slots=True)
class PublicFile:
    path: Path
    extracted_at: dt.datetime | None  # from a timestamped name, else Last-Modified / the file's mtime


def is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


async def fetch_public_file(source: str, directory: Path, observer: TransportObserver | None = None) -> PublicFile:
    """The file to import: ``source`` itself, or its download (https, or http on loopback only)."""
    if not is_url(source):
        return await asyncio.to_thread(_local_file, source)
    name = Path(unquote(urlsplit(source).path)).name or "public-extraction"
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    async with HttpClient("public_xml", DOWNLOAD_SETTINGS, TlsSettings(), observer=observer) as http:
        download = await http.download(source, directory / name)
    try:
        when: dt.datetime | None = extraction_instant(download.headers)
    except ExtractionError:
        when = time_of_name(name)
    return PublicFile(download.path, when)


def _local_file(source: str) -> PublicFile:
    path = Path(source).expanduser()
    if not path.is_file():
        raise ImportSourceError(f"{source}: no such file")
    mtime = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    return PublicFile(path, time_of_name(path.name) or mtime)


async def import_public(
    settings: Settings,
    db: Database,
    source: str,
    *,
    progress: Progress = NULL_PROGRESS,
    clock: Clock = utcnow,
    observer: TransportObserver | None = None,
) -> None:
    """Import one public extraction (file path or URL) as a complete load of the ``public_xml`` source."""
    directory = settings.state_dir / "public-xml"
    async with journaled_run(db, Source.PUBLIC_XML, "import", scope=source, clock=clock) as run:
        try:
            started = clock()
            public = await fetch_public_file(source, directory, observer)
            writer = run_writer(db, Source.PUBLIC_XML, settings, run, clock=clock, progress=progress)
            await _load(settings, writer, run, public.path, progress)
            grace = settings.public_xml.tombstone_grace

            async def sweep(write: WriteContext) -> None:
                run.extra.update(await sweep_after_complete_load(write, seen_before=started, grace=grace))

            stamp = format_instant(public.extracted_at or started)
            await writer.flush(cursors={IMPORT_STREAM: stamp}, finalize=sweep)
            progress.finish()
        finally:
            shutil.rmtree(directory, ignore_errors=True)


async def _load(settings: Settings, writer: BatchWriter, run: RunHandle, path: Path, progress: Progress) -> None:
    max_part_bytes = settings.public_xml.max_part_bytes
    if await asyncio.to_thread(_is_zip, path):
        verified = await asyncio.to_thread(verify_extraction, path, max_part_bytes=max_part_bytes)
        description = f"public extraction ({len(verified.parts)} parts)"
        readers = reader_count(settings.public_xml.extraction_readers)
        await load_extraction(writer, run, verified, progress, description, readers=readers)
        return
    limits = XmlLimits(max_bytes=max_part_bytes)
    await asyncio.to_thread(_check_bare_file, path, limits)
    resolver = CsdResolver()
    progress.start(f"public extraction ({path.name})")
    await store_items(writer, iter_extraction_records(path, resolver=resolver, limits=limits))
    await store_items(writer, resolver.finish())
    log_warnings(run, resolver.warnings)


def _is_zip(path: Path) -> bool:
    """A ZIP by its name or its first bytes: a truncated archive must fail as a ZIP, not as bad XML."""
    with path.open("rb") as stream:
        return path.suffix.lower() == ".zip" or stream.read(4) == b"PK\x03\x04"


def _check_bare_file(path: Path, limits: XmlLimits) -> None:
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise ExtractionError(f"{path}: {size} bytes, over public_xml.max_part_bytes ({limits.max_bytes})")
    check_document(path, limits=limits)
