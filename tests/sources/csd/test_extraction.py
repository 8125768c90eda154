"""Extraction ZIPs: every part is checked before any record is produced; parts stream from the ZIP."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from rorsync.model import Entity, Record, RecordError
from rorsync.sources.csd.errors import ExtractionError
from rorsync.sources.csd.extraction import (
    ExtractionEvent,
    VerifiedExtraction,
    extraction_time,
    index_organizations,
    read_share,
    verify_extraction,
)
from rorsync.sources.csd.parse import iter_extraction_records
from rorsync.sources.csd.resolver import CsdResolver, ParseWarning

Sample = Callable[[str], bytes]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def with_sidecars(parts: dict[str, bytes]) -> dict[str, bytes]:
    members = dict(parts)
    for name, data in parts.items():
        members[f"{name[:-4]}.txt"] = sha256(data).encode()
    return members


@pytest.fixture
def two_parts(sample: Sample, fixture_bytes: Callable[[str], bytes]) -> dict[str, bytes]:
    return {
        "ExtractionOffresSante_1.xml": fixture_bytes("v24_lenient_extraction.xml"),
        "ExtractionOffresSante_2.xml": sample("EG_Conformite_date0_restriction0_Cas2"),
    }


def test_verified_parts_stream_in_name_order(tmp_path: Path, two_parts: dict[str, bytes]) -> None:
    members = {
        "ExtractionOffresSante_2.xml": two_parts["ExtractionOffresSante_2.xml"],
        # sha256sum format, upper case, trailing newline: all tolerated
        "ExtractionOffresSante_2.txt": f"{sha256(two_parts['ExtractionOffresSante_2.xml']).upper()}  x.xml\n".encode(),
        "ExtractionOffresSante_1.xml": two_parts["ExtractionOffresSante_1.xml"],
        "ExtractionOffresSante_1.txt": f"\n {sha256(two_parts['ExtractionOffresSante_1.xml'])} \n".encode(),
        "README": b"not a part",
    }
    verified = verify_extraction(make_zip(tmp_path / "extraction.zip", members))
    assert [part.name for part in verified.parts] == ["ExtractionOffresSante_1.xml", "ExtractionOffresSante_2.xml"]
    assert [part.size for part in verified.parts] == [len(two_parts[part.name]) for part in verified.parts]
    resolver = CsdResolver()
    outputs = list(verified.iter_records(resolver))
    records = [output for output in outputs if isinstance(output, Record)]
    assert len(records) == len(outputs)
    ids = [record.resource_id for record in records]
    assert ids.index("12A0000022") < ids.index("1070000702")  # part 1 before part 2
    assert {"94/0101", "07/0004", "07/0004/location", "810000000001@94/0101"} <= set(ids)
    assert len(resolver.warnings) == 2  # the UE and the provider keyed by entityID, in part 1


@pytest.fixture
def organizations_apart(tmp_path: Path, fixture_bytes: Callable[[str], bytes]) -> VerifiedExtraction:
    """Part a holds the organizations (EJ, EG) only, part b everything else, which hangs on them."""
    whole = etree.fromstring(fixture_bytes("v24_lenient_extraction.xml"))
    organizations_only, the_rest = copy.deepcopy(whole), copy.deepcopy(whole)
    for directory in organizations_only[1:]:
        directory.clear()
    the_rest[0].clear()
    parts = {"a.xml": etree.tostring(organizations_only), "b.xml": etree.tostring(the_rest)}
    return verify_extraction(make_zip(tmp_path / "x.zip", with_sidecars(parts)))


def test_a_reference_to_another_part_resolves(organizations_apart: VerifiedExtraction) -> None:
    records = list(organizations_apart.iter_records())
    assert all(isinstance(record, Record) for record in records)
    offer = next(r for r in records if isinstance(r, Record) and r.resource_id == "94/0101")
    assert offer.entity is Entity.OFFER and offer.region == "94"


def _records_of(events: list[ExtractionEvent]) -> dict[tuple[str, str], bytes]:
    return {(e.entity.value, e.resource_id): e.payload for e in events if isinstance(e, Record)}


def test_readers_of_different_parts_resolve_references_across_parts(organizations_apart: VerifiedExtraction) -> None:
    extraction = organizations_apart
    alone = list(read_share(extraction, 0, 1))
    first, second = list(read_share(extraction, 0, 2)), list(read_share(extraction, 1, 2))
    assert _records_of(first) and _records_of(second)  # each read its own part
    assert _records_of(first) | _records_of(second) == _records_of(alone)
    assert not [e for e in first + second if isinstance(e, RecordError)]
    assert ("offer", "94/0101") in _records_of(second)  # under an EG of the other part


def test_an_entity_id_naming_two_organizations_makes_one_reader_read_every_part(
    tmp_path: Path, fixture_bytes: Callable[[str], bytes]
) -> None:
    original = fixture_bytes("v24_lenient_extraction.xml")
    other = etree.fromstring(original)
    first_organization = next(other.iter("{*}organization"))
    for other_id in first_organization.iterchildren("{*}otherID"):
        other_id.set("code", other_id.get("code", "") + "9")  # same entityID, another organization
    extraction = verify_extraction(
        make_zip(tmp_path / "x.zip", with_sidecars({"a.xml": original, "b.xml": etree.tostring(other)}))
    )
    assert index_organizations(extraction).conflicting == {first_organization.get("entityID")}
    first, second = list(read_share(extraction, 0, 2)), list(read_share(extraction, 1, 2))
    assert second == []
    warnings = [e for e in first if isinstance(e, ParseWarning)]
    assert any("name different organizations in different parts" in w.reason for w in warnings)
    assert _records_of(first) == _records_of(list(read_share(extraction, 0, 1)))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda m: m | {"ExtractionOffresSante_2.txt": b"0" * 64},
            r"ExtractionOffresSante_2\.xml: SHA-256 .* does not match",
        ),
        (lambda m: {k: v for k, v in m.items() if k != "ExtractionOffresSante_2.txt"}, r"_2\.xml: no SHA-256 sidecar"),
        (lambda m: m | {"ExtractionOffresSante_1.txt": b"not a digest"}, r"_1\.xml: sidecar .* does not hold"),
        (
            lambda m: m | {"../evil.xml": b"<x/>", "../evil.txt": sha256(b"<x/>").encode()},
            r"unsafe member name '\.\./evil\.xml'",
        ),
        (lambda m: m | {"/abs/evil.xml": b"<x/>"}, "unsafe member name"),
        (lambda m: m | {"dir\\..\\evil.xml": b"<x/>"}, "unsafe member name"),
        (lambda m: {"a.txt": b"x"}, "no XML part"),
    ],
)
def test_bad_archives_are_rejected_before_any_record(
    tmp_path: Path, two_parts: dict[str, bytes], mutate: Callable[[dict[str, bytes]], dict[str, bytes]], message: str
) -> None:
    path = make_zip(tmp_path / "bad.zip", mutate(with_sidecars(two_parts)))
    with pytest.raises(ExtractionError, match=message):
        verify_extraction(path)


def test_corrupted_byte_in_a_part_is_caught(tmp_path: Path, two_parts: dict[str, bytes]) -> None:
    members = with_sidecars(two_parts)
    members["ExtractionOffresSante_2.xml"] = members["ExtractionOffresSante_2.xml"].replace(b"231", b"232", 1)
    with pytest.raises(ExtractionError, match=r"ExtractionOffresSante_2\.xml"):
        verify_extraction(make_zip(tmp_path / "x.zip", members))


def test_oversized_part_is_rejected(tmp_path: Path, two_parts: dict[str, bytes]) -> None:
    path = make_zip(tmp_path / "big.zip", with_sidecars(two_parts))
    limit = min(len(data) for data in two_parts.values()) - 1
    with pytest.raises(ExtractionError, match=f"over the {limit}-byte part limit"):
        verify_extraction(path, max_part_bytes=limit)


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "download.zip"
    path.write_bytes(b"<html>503 Service Unavailable</html>")
    with pytest.raises(ExtractionError, match=r"download\.zip: unreadable ZIP"):
        verify_extraction(path)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'attachment; filename="ExtractionOffresSante_Profil1_202401150830.zip"',
            dt.datetime(2024, 1, 15, 7, 30, tzinfo=dt.UTC),
        ),
        ("attachment; filename=ror_202407011200.zip", dt.datetime(2024, 7, 1, 10, 0, tzinfo=dt.UTC)),
        ("attachment; filename*=UTF-8''ror%C3%A9_202412312359.ZIP", dt.datetime(2024, 12, 31, 22, 59, tzinfo=dt.UTC)),
    ],
)
def test_extraction_time_from_content_disposition(header: str, expected: dt.datetime) -> None:
    assert extraction_time(header) == expected


@pytest.mark.parametrize(
    "header", ["attachment", 'attachment; filename="export.zip"', "attachment; filename=x_202413011200.zip"]
)
def test_extraction_time_needs_a_timestamped_name(header: str) -> None:
    with pytest.raises(ExtractionError, match="Content-Disposition"):
        extraction_time(header)


def test_a_part_on_disk_streams_like_a_member(tmp_path: Path, fixture_bytes: Callable[[str], bytes]) -> None:
    path = tmp_path / "ExtractionOffresSante_1.xml"
    path.write_bytes(fixture_bytes("v24_lenient_extraction.xml"))
    from_path = [record.resource_id for record in iter_extraction_records(path) if isinstance(record, Record)]
    from_name = [record.resource_id for record in iter_extraction_records(str(path)) if isinstance(record, Record)]
    assert from_path == from_name
    assert len(from_path) == 10
