"""Export files: every accepted shape, in memory or streamed, gives the same records; search page paging."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from rorsync.model import Record, RecordError
from rorsync.sources.fhir.parse import iter_export_records, parse_search_page
from tests.sources.fhir.conftest import FIXTURES, read_fixture

RESOURCES = sorted(path.name for path in FIXTURES.glob("*.json"))
TASK = {
    "resourceType": "Task",
    "id": "ror-task-exemple",
    "meta": {"lastUpdated": "2024-05-02T10:00:00+02:00"},
    "status": "requested",
    "intent": "order",
    "focus": {"reference": "Organization/1910800002"},
}


def resources() -> list[dict[str, Any]]:
    return [read_fixture(name) for name in RESOURCES] + [TASK]


def bundle(kind: str) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [{"fullUrl": f"urn:uuid:{index}", "resource": r} for index, r in enumerate(resources())],
    }


SHAPES: dict[str, bytes] = {
    "bundle-pretty": orjson.dumps(bundle("collection"), option=orjson.OPT_INDENT_2),
    "bundle-compact": orjson.dumps(bundle("searchset")),
    "bundle-with-bom": b"\xef\xbb\xbf" + orjson.dumps(bundle("batch-response"), option=orjson.OPT_INDENT_2),
    "array": orjson.dumps(resources(), option=orjson.OPT_INDENT_2),
    "array-of-bundles": orjson.dumps([bundle("searchset"), {"resourceType": "Bundle", "type": "searchset"}]),
    "ndjson": b"".join(orjson.dumps(r) + b"\n" for r in resources()),
    "ndjson-crlf-blank-lines": b"\r\n".join(orjson.dumps(r) for r in resources()) + b"\r\n\r\n",
}


def signature(item: Record | RecordError) -> tuple[Any, ...]:
    assert isinstance(item, Record), item
    return (
        item.entity,
        item.resource_id,
        item.last_updated,
        item.region,
        item.payload,
        item.row,
        item.codes,
        item.contacts,
        item.capacities,
        item.equipment,
        item.residential,
        item.location_refs,
    )


@pytest.fixture(scope="module")
def expected() -> list[tuple[Any, ...]]:
    items = list(iter_export_records(FIXTURES / RESOURCES[0]))
    assert len(items) == 1
    page = parse_search_page(SHAPES["bundle-compact"])
    assert not page.errors and page.skipped == ["Task/ror-task-exemple"]
    return [signature(record) for record in page.records]


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("stream_threshold", [1 << 30, 0], ids=["in-memory", "streamed"])
def test_every_shape_gives_the_same_records(
    tmp_path: Path, shape: str, stream_threshold: int, expected: list[tuple[Any, ...]]
) -> None:
    path = tmp_path / f"{shape}.json"
    path.write_bytes(SHAPES[shape])

    items = list(iter_export_records(path, stream_threshold=stream_threshold))

    assert [signature(item) for item in items] == expected


def test_lone_resource_file(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_bytes(orjson.dumps(read_fixture("Organization-1111-EJ.json"), option=orjson.OPT_INDENT_2))

    assert [item.resource_id for item in iter_export_records(path) if isinstance(item, Record)] == ["1111"]


def test_streamed_entry_errors_are_located(tmp_path: Path) -> None:
    document = bundle("collection")
    document["entry"][1] = {"fullUrl": "urn:uuid:x"}
    path = tmp_path / "export.json"
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))

    errors = [item for item in iter_export_records(path, stream_threshold=0) if isinstance(item, RecordError)]

    assert [(error.where, error.reason) for error in errors] == [(f"{path}:entry[1]", "no resource")]


@pytest.mark.parametrize("stream_threshold", [1 << 30, 0], ids=["in-memory", "streamed"])
def test_file_that_is_not_json_collection_raises(tmp_path: Path, stream_threshold: int) -> None:
    path = tmp_path / "export.json"
    path.write_bytes(b'"just a string"')

    with pytest.raises(ValueError, match="expected a Bundle, an array of resources or NDJSON"):
        list(iter_export_records(path, stream_threshold=stream_threshold))


# --- search pages ------------------------------------------------------------------------------------


def entry(resource: dict[str, Any], mode: str) -> dict[str, Any]:
    return {"fullUrl": f"Organization/{resource['id']}", "resource": resource, "search": {"mode": mode}}


def test_page_deduplicates_a_resource_matched_and_included_keeping_the_newest() -> None:
    older = read_fixture("Organization-2222-EG.json")
    newer = read_fixture("Organization-2222-EG.json")
    newer["meta"]["lastUpdated"] = "2024-12-01T00:00:00Z"
    newer["name"] = "Quiétude BOIS-COLOMBES (nouveau nom)"
    body = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 2,
        "link": [{"relation": "self", "url": "https://example/Organization"}],
        "entry": [
            entry(older, "match"),
            entry(read_fixture("Organization-1111-EJ.json"), "match"),
            entry(newer, "include"),
        ],
    }

    page = parse_search_page(orjson.dumps(body))

    assert [(r.resource_id, r.row["name"]) for r in page.records] == [  # type: ignore[typeddict-item]
        ("2222", "Quiétude BOIS-COLOMBES (nouveau nom)"),
        ("1111", "Quiétude"),
    ]
    assert (page.total, page.matched, page.next_url, page.empty) == (2, 2, None, False)


def test_empty_page() -> None:
    page = parse_search_page(b'{"resourceType":"Bundle","type":"searchset","total":0,"link":[]}')

    assert (page.records, page.errors, page.total, page.matched, page.next_url, page.empty) == (
        [],
        [],
        0,
        0,
        None,
        True,
    )
