"""Importing the weekly public XML (profile-0 extraction) into the ``public_xml`` source."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from rorsync.config import Settings
from rorsync.model import Source
from rorsync.simulator.server import Simulator
from rorsync.sources.csd.errors import CsdResponseError, ExtractionError
from rorsync.sources.csd.extraction import time_of_name
from rorsync.store import schema
from rorsync.store.engine import Database
from rorsync.store.state import format_instant
from rorsync.sync.public import ImportSourceError, import_public
from tests.simulator.clock import FakeClock
from tests.sync.csd.conftest import cursors, mirrored, runs, served


def public_file(sim: Simulator, directory: Path) -> Path:
    """The profile-0 extraction as published: a timestamped ZIP of parts and SHA-256 sidecars."""
    built = sim.extractions.build(0)
    target = directory / built.filename
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(built.path, target)
    return target


async def change_log_size(db: Database) -> int:
    async with db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(schema.change_log))).scalar_one())


async def test_an_import_mirrors_the_public_data_and_the_next_one_tombstones_what_went(
    sim: Simulator, database: Database, tmp_path: Path, clock: FakeClock
) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    first = public_file(sim, tmp_path / "week1")
    await import_public(settings, database, str(first))
    assert await mirrored(database, source=Source.PUBLIC_XML) == served(sim, profile=0)
    extracted_at = time_of_name(first.name)
    assert extracted_at and (await cursors(database, Source.PUBLIC_XML))["import"] == format_instant(extracted_at)

    logged = await change_log_size(database)
    await import_public(settings, database, str(first))  # the same file again changes nothing
    assert await change_log_size(database) == logged

    clock.advance(3600)
    sim.apply_changes(10, "delete")
    sim.apply_changes(10, "update")
    before = await mirrored(database, source=Source.PUBLIC_XML)
    await import_public(settings, database, str(public_file(sim, tmp_path / "week2")))
    truth = served(sim, profile=0)
    assert await mirrored(database, source=Source.PUBLIC_XML) == truth
    assert set(await mirrored(database, source=Source.PUBLIC_XML, tombstoned=True)) == set(before) - set(truth)
    assert [(r.source, r.kind, r.status) for r in await runs(database)] == [("public_xml", "import", "ok")] * 3
    assert await mirrored(database, source=Source.CSD) == {}  # the other sources are not touched


async def test_a_bare_xml_file_is_imported_and_a_truncated_one_refused_untouched(
    sim: Simulator, database: Database, tmp_path: Path
) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    with zipfile.ZipFile(public_file(sim, tmp_path / "zip")) as archive:
        [part] = [name for name in archive.namelist() if name.endswith(".xml")]
        document = archive.read(part)
    truncated = tmp_path / "truncated.xml"
    truncated.write_bytes(document[: len(document) * 2 // 3])
    with pytest.raises(CsdResponseError, match="truncated"):
        await import_public(settings, database, str(truncated))
    assert await mirrored(database, source=Source.PUBLIC_XML) == {}
    assert (await runs(database))[-1].status == "failed"

    bare = tmp_path / "public.xml"
    bare.write_bytes(document)
    await import_public(settings, database, str(bare))
    assert await mirrored(database, source=Source.PUBLIC_XML) == served(sim, profile=0)


async def test_a_corrupted_or_missing_file_is_refused_without_touching_the_mirror(
    sim: Simulator, database: Database, tmp_path: Path
) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    good = public_file(sim, tmp_path / "good")
    await import_public(settings, database, str(good))
    loaded = await mirrored(database, source=Source.PUBLIC_XML)
    corrupted = tmp_path / "corrupted.zip"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(corrupted, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(
                info, data.replace(b"<csd:name>", b"<csd:name>X", 1) if info.filename.endswith(".xml") else data
            )
    with pytest.raises(ExtractionError, match="SHA-256"):
        await import_public(settings, database, str(corrupted))
    with pytest.raises(ImportSourceError, match="no such file"):
        await import_public(settings, database, str(tmp_path / "absent.zip"))
    assert await mirrored(database, source=Source.PUBLIC_XML) == loaded
    assert await mirrored(database, source=Source.PUBLIC_XML, tombstoned=True) == {}


async def test_an_import_from_a_url(sim: Simulator, database: Database, tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    await import_public(settings, database, sim.extraction_url(0))
    assert await mirrored(database, source=Source.PUBLIC_XML) == served(sim, profile=0)
    assert not (tmp_path / "state" / "public-xml").exists(), "the download is removed"
