"""Exports write exactly a profile's view rows, as JSON Lines or CSV, all files or none."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rorsync.cli import main
from rorsync.policy.catalog import VIEW_KINDS
from rorsync.policy.export import ExportFormat, export_views
from rorsync.store.engine import Database
from tests import factories as f
from tests.policy.support import load, view_rows

RECORDS = [
    f.organization("eg", drop_zone=True, opening_date=dt.date(2001, 2, 3)),
    f.offer("s1", sensitive=True, location_refs=["l1"], closed_from=f.at(90)),
    f.offer("s2", location_refs=["l2"], contacts=[f.telecom('01 "02", 03', contact_level=1)]),
    f.location("l1", capacities=[f.capacity("02", 4)]),
    f.location("l2", latitude=47.9, capacities=[f.capacity("01", 12), f.capacity("06", 3)]),
]


def leftovers(directory: Path) -> list[Path]:
    return list(directory.glob(".*.part"))


def as_json(value: Any) -> Any:
    """A view value as the export writes it in JSON."""
    return value.isoformat() if isinstance(value, dt.date) else value


def as_csv(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if isinstance(value, dt.date) else str(value)


@pytest.mark.parametrize("profile", [1, 2])
async def test_exports_hold_exactly_the_view_rows(database: Database, tmp_path: Path, profile: int) -> None:
    await load(database, RECORDS)
    jsonl = await export_views(database, profile, VIEW_KINDS, ExportFormat.JSONL, tmp_path)
    csv_files = await export_views(database, profile, VIEW_KINDS, ExportFormat.CSV, tmp_path)
    for kind, as_lines, as_table in zip(VIEW_KINDS, jsonl, csv_files, strict=True):
        rows = await view_rows(database, profile, kind)
        assert as_lines.name == as_table.name == f"p{profile}_{kind}"
        assert as_lines.rows == as_table.rows == len(rows)
        assert as_lines.path and as_table.path
        written = [json.loads(line) for line in as_lines.path.read_text().splitlines()]
        assert sorted(map(repr, written)) == sorted(repr({k: as_json(v) for k, v in row.items()}) for row in rows)
        header, *lines = list(csv.reader(io.StringIO(as_table.path.read_text(), newline="")))
        assert header == (list(rows[0]) if rows else header)
        assert sorted(lines) == sorted([as_csv(v) for v in row.values()] for row in rows)
    offers = {
        json.loads(line)["resource_id"] for line in (tmp_path / f"p{profile}_offer.jsonl").read_text().splitlines()
    }
    assert offers == ({"s1", "s2"} if profile == 1 else {"s2"})
    assert not leftovers(tmp_path)


async def test_instants_are_iso_8601_utc(database: Database, tmp_path: Path) -> None:
    await load(database, RECORDS)
    await export_views(database, 1, ["offer", "organization"], ExportFormat.JSONL, tmp_path)
    offers = {
        row["resource_id"]: row for row in map(json.loads, (tmp_path / "p1_offer.jsonl").read_text().splitlines())
    }
    assert offers["s1"]["closed_from"] == "2026-01-01T01:30:00+00:00"
    [organization] = map(json.loads, (tmp_path / "p1_organization.jsonl").read_text().splitlines())
    assert (organization["opening_date"], organization["drop_zone"]) == ("2001-02-03", True)


async def test_a_failed_export_leaves_no_file(database: Database, tmp_path: Path) -> None:
    await load(database, RECORDS)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ValueError, match="no view"):
        await export_views(database, 1, ["offer", "nonsense"], ExportFormat.CSV, out)
    assert list(out.iterdir()) == []


def test_export_command_resolves_cu_codes_and_writes_to_stdout(tmp_path: Path) -> None:
    config = tmp_path / "rorsync.toml"
    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    config.write_text(f'[database]\nurl = "{url}"\n')
    runner = CliRunner()
    assert runner.invoke(main, ["-c", str(config), "db", "upgrade"]).exit_code == 0

    async def fill() -> None:
        db = Database(url)
        await load(db, RECORDS)
        await db.close()

    asyncio.run(fill())
    public = runner.invoke(main, ["-c", str(config), "export", "--cu", "CU23", "--format", "csv", "--view", "offer"])
    assert public.exit_code == 0, public.output
    assert [row["resource_id"] for row in csv.DictReader(io.StringIO(public.stdout))] == ["s2"]
    regulator = runner.invoke(
        main, ["-c", str(config), "export", "--cu", "CU22", "--format", "jsonl", "--view", "offer"]
    )
    assert sorted(json.loads(line)["resource_id"] for line in regulator.stdout.splitlines()) == ["s1", "s2"]
    denied = runner.invoke(main, ["-c", str(config), "export", "--cu", "CU05", "--format", "csv", "--view", "offer"])
    assert denied.exit_code == 2 and "access denied" in denied.output
    several = runner.invoke(main, ["-c", str(config), "export", "--profile", "2", "--format", "csv"])
    assert several.exit_code == 2 and "--view" in several.output
    directory = runner.invoke(
        main, ["-c", str(config), "export", "--profile", "2", "--format", "csv", "--output", str(tmp_path / "out")]
    )
    assert directory.exit_code == 0
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == sorted(f"p2_{kind}.csv" for kind in VIEW_KINDS)
