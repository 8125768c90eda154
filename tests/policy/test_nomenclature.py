"""Code labels: packaged tables seeded without any import, NOS files imported atomically."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from rorsync.cli import main
from rorsync.codes.tabs import NosFormatError
from rorsync.store import schema
from rorsync.store.engine import Database
from rorsync.store.nomenclature import import_tables, read_nos_file, seed_packaged
from tests import factories as f
from tests.policy.support import load, view_rows

MCO_LABEL = "Médecine, Chirurgie, Obstétrique (MCO)"


def nos_zip(shared_dir: Path) -> Path:
    return next((shared_dir / "ror" / "nos").glob("*.zip"))


def tabs_file(path: Path, *, updated: str, code_line: str = "1.2.250.1.213.3.3.17;04;Médico-social (MS)") -> Path:
    """A TRE_R227 file as the ANS publishes it (cp1252), with a chosen version and an 04 line."""
    text = (
        "<OID>;<Type fichier>;<Nom fichier>;<Description>;<URL fichier>;<Date valid>;<Date fin>;<Date MàJ>\n"
        f"1.2.250.1.213.3.3.17;TRE;TRE_R227-ChampActivite.tabs;Champ d'activité;;20170322120000;;{updated}\n"
        "<OID>;<Code>;<Libellé adapté>;<Libellé court>;<Libellé long>;<Date valid>;<Date fin>;<Date MàJ>\n"
        f"1.2.250.1.213.3.3.17;01;{MCO_LABEL};MCO;;20170322120000;;20170322120000\n"
        f"{code_line}\n"
    )
    path.write_bytes(text.encode("cp1252"))
    return path


async def snapshot(db: Database) -> tuple[int, list[tuple[str, str]]]:
    async with db.read() as conn:
        count = (await conn.execute(select(func.count()).select_from(schema.nomenclature))).scalar_one()
        catalog = schema.nomenclature_table
        query = select(catalog.c.table_id, catalog.c.origin).order_by(catalog.c.table_id)
        origins = [(table_id, origin) for table_id, origin in await conn.execute(query)]
    return count, origins


async def test_views_show_labels_with_no_import(database: Database) -> None:
    changes = await seed_packaged(database)
    assert len(changes) > 100 and all(change.previous_origin is None for change in changes)
    await load(
        database,
        [
            f.offer("s1", activity_field_code="01", region="24", location_refs=["l1"]),
            f.location("l1", capacities=[f.capacity("02", 3)]),
            f.organization("o1", contacts=[f.telecom("0102", contact_level=1)]),
        ],
    )
    [offer] = await view_rows(database, 2, "offer")
    assert (offer["activity_field_label"], offer["region_label"]) == (MCO_LABEL, "Centre-Val-de-Loire")
    [line] = await view_rows(database, 2, "capacity")
    assert (line["status_label"], line["capacity_type_label"], line["capacity_class"]) == (
        "Disponible",
        "Lit",
        "operational",
    )
    [contact] = await view_rows(database, 0, "contact")
    assert contact["contact_confidentiality_label"] == "Accès libre"
    assert await seed_packaged(database) == []  # seeding again finds nothing to do


async def test_importing_the_public_zip_loads_every_code_table(database: Database, shared_dir: Path) -> None:
    await seed_packaged(database)
    tables = read_nos_file(nos_zip(shared_dir))
    changes = await import_tables(database, tables)
    assert len(changes) == len(tables) > 200
    new = {change.table_id for change in changes if change.previous_origin is None}
    assert "TRE_R94" in new  # not shipped with rorsync
    relabelled = {change.table_id: change for change in changes if change.changed and change.previous_origin}
    assert relabelled["TRE_R330"].removed == 3  # the bundle predates statuses 07-09 the package adds
    _, origins = await snapshot(database)
    assert dict(origins)["TRE_R227"] == nos_zip(shared_dir).name
    # The bundle is older than the package: the next upgrade puts the packaged tables back.
    reseeded = {change.table_id for change in await seed_packaged(database)}
    assert "TRE_R330" in reseeded and "TRE_R94" not in reseeded


async def test_a_newer_import_survives_seeding_and_an_older_one_does_not(database: Database, tmp_path: Path) -> None:
    await seed_packaged(database)
    newer = tabs_file(tmp_path / "TRE_R227-ChampActivite.tabs", updated="20990101000000", code_line="x;04;MS (2099)")
    await import_tables(database, read_nos_file(newer))
    assert await seed_packaged(database) == []
    await load(database, [f.offer("s1", activity_field_code="04")])
    assert (await view_rows(database, 1, "offer"))[0]["activity_field_label"] == "MS (2099)"
    older = tabs_file(tmp_path / "TRE_R227-ChampActivite.tabs", updated="20000101000000", code_line="x;04;MS (2000)")
    await import_tables(database, read_nos_file(older))
    assert [change.table_id for change in await seed_packaged(database)] == ["TRE_R227"]
    assert (await view_rows(database, 1, "offer"))[0]["activity_field_label"] == "Médico-social (MS)"


async def test_a_corrupted_file_names_file_and_line_and_changes_nothing(database: Database, tmp_path: Path) -> None:
    await seed_packaged(database)
    before = await snapshot(database)
    broken = tabs_file(tmp_path / "TRE_R227-ChampActivite.tabs", updated="20990101000000", code_line="1.2.3;;")
    with pytest.raises(NosFormatError, match=r"TRE_R227-ChampActivite\.tabs:5: expected OID;code;label"):
        read_nos_file(broken)
    good = tabs_file(tmp_path / "good.tabs", updated="20990101000000")
    bundle = tmp_path / "bundle.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("TRE_R227-ChampActivite.tabs", good.read_bytes())
        archive.writestr("TRE_R999-Broken.tabs", broken.read_bytes())
    with pytest.raises(NosFormatError, match=r"bundle\.zip!TRE_R999-Broken\.tabs:5"):
        read_nos_file(bundle)
    assert await snapshot(database) == before


def test_nos_import_command_reports_changes_and_refuses_bad_files(tmp_path: Path) -> None:
    config = tmp_path / "rorsync.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "m.sqlite"}"\n')
    runner = CliRunner()
    upgraded = runner.invoke(main, ["-c", str(config), "db", "upgrade"])
    assert "NOS tables loaded from the package" in upgraded.output
    good = tabs_file(tmp_path / "TRE_R227-ChampActivite.tabs", updated="20990101000000", code_line="x;04;MS (2099)")
    result = runner.invoke(main, ["-c", str(config), "nos", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "TRE_R227 (TRE_R227-ChampActivite): 0 added, 3 removed, 1 relabelled" in result.output
    assert "1 tables loaded (0 new, 1 changed, 0 unchanged)" in result.output
    broken = io.BytesIO(good.read_bytes().replace(b"x;04;MS (2099)", b"only-one-field"))
    bad = tmp_path / "bad.tabs"
    bad.write_bytes(broken.getvalue())
    result = runner.invoke(main, ["-c", str(config), "nos", "import", str(bad)])
    assert result.exit_code == 1
    assert "nothing imported" in result.output and "bad.tabs:5" in result.output
