"""Bad input gives an error naming the resource and the element; one bad entry never loses the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from rorsync.model import Record, RecordError
from rorsync.sources.fhir.errors import FhirParseError, OperationOutcomeError, ResourceError
from rorsync.sources.fhir.parse import iter_export_records, parse_search_page, record_from_resource
from tests.sources.fhir.conftest import FIXTURES, read_fixture

BAD = FIXTURES / "bad"


def bad(name: str) -> Any:
    return orjson.loads((BAD / name).read_bytes())


@pytest.mark.parametrize(
    ("name", "where", "reason"),
    [
        ("missing-id.json", "HealthcareService/?", "id: missing or not a FHIR id: None"),
        ("missing-lastupdated.json", "Location/ror-location-exemple-1", "meta.lastUpdated: missing"),
        (
            "unparseable-lastupdated.json",
            "HealthcareService/1234564",
            "meta.lastUpdated: invalid date or dateTime '08/04/2025 09:12'",
        ),
        ("wrong-resourcetype.json", "Organisation/2222", "resourceType: 'Organisation' is not a FHIR R4 resource type"),
        ("wrong-json-type.json", "HealthcareService/1234564", "name: expected a string, got number"),
    ],
)
def test_bad_resource_names_resource_and_element(name: str, where: str, reason: str) -> None:
    data = (BAD / name).read_bytes()

    with pytest.raises(RecordError) as raised:
        record_from_resource(orjson.loads(data), data)

    assert (raised.value.where, raised.value.reason) == (where, reason)
    assert raised.value.payload == data  # kept for the quarantine


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(identifier={"value": "x"}), "identifier: expected an array, got object"),
        (lambda r: r.update(extension="x"), "extension: expected an array, got string"),
        (lambda r: r["meta"].update(lastUpdated=20250408), "meta.lastUpdated: expected a dateTime string, got number"),
        (lambda r: r.update(id="bad id with spaces"), "id: missing or not a FHIR id"),
        (
            lambda r: r.update(providedBy={"reference": "Location/1"}),
            "providedBy.reference: expected a reference to Organization",
        ),
        (
            lambda r: r["extension"][2].update(valueBoolean="false"),
            "extension(ror-healthcareservice-sensitive-unit).valueBoolean: expected a boolean, got string",
        ),
        (
            lambda r: r["extension"][4]["extension"][2]["extension"][2].update(valueString=199999999),
            "extension(ror-healthcareservice-contact)[0].extension(ror-healthcareservice-contact-telecom)[0]"
            ".extension(telecomAddress).valueString: expected a string, got number",
        ),
        (
            lambda r: r["extension"][3]["extension"][0]["valueRange"]["low"].update(code="siècle"),
            "extension(ror-healthcareservice-patient-type).extension(ageRange).valueRange.low.code: unknown age unit",
        ),
        (lambda r: r["type"][0].update(coding=[{"code": 1}]), "type[0].coding[0]: code and system must be strings"),
    ],
)
def test_wrong_json_types_are_located(change: Any, message: str) -> None:
    resource = read_fixture("HealthcareService-1234564.json")
    change(resource)

    with pytest.raises(ResourceError, match=r"^HealthcareService/") as raised:
        record_from_resource(resource)

    assert raised.value.reason.startswith(message)


def test_capacity_without_count_is_located() -> None:
    resource = read_fixture("Location-ror-location-exemple-1.json")
    capacity = resource["extension"][3]
    capacity["extension"] = [sub for sub in capacity["extension"] if sub["url"] != "nbCapacity"]

    with pytest.raises(ResourceError) as raised:
        record_from_resource(resource)

    assert raised.value.reason.startswith(
        "extension(ror-location-supported-capacity)[1].extension(nbCapacity): missing"
    )
    assert (raised.value.resource_type, raised.value.resource_id) == ("Location", "ror-location-exemple-1")


def test_resource_that_is_not_an_object() -> None:
    with pytest.raises(ResourceError, match="expected a JSON object, got array"):
        record_from_resource([])  # type: ignore[arg-type]


def test_malformed_page_raises_a_parse_error() -> None:
    with pytest.raises(FhirParseError, match="search page: malformed JSON at character"):
        parse_search_page((BAD / "malformed.json").read_bytes())


def test_malformed_export_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(FhirParseError, match=r"malformed\.json: malformed JSON at character"):
        list(iter_export_records(BAD / "malformed.json"))


def test_truncated_streamed_export_fails_after_its_good_entries(tmp_path: Path) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": read_fixture("Organization-2222-EG.json")}] * 3,
    }
    data = orjson.dumps(bundle, option=orjson.OPT_INDENT_2)
    path = tmp_path / "truncated.json"
    path.write_bytes(data[: len(data) * 3 // 4])

    seen: list[Record | RecordError] = []
    with pytest.raises(FhirParseError, match=r"truncated\.json: malformed JSON after .*entry\["):
        seen.extend(iter_export_records(path, stream_threshold=0))
    assert [type(item) for item in seen] == [Record, Record]


def test_page_keeps_good_entries_and_reports_bad_ones() -> None:
    page = parse_search_page((BAD / "page-with-bad-entries.json").read_bytes())

    assert [(r.entity.value, r.resource_id) for r in page.records] == [
        ("organization", "2222"),
        ("organization", "1111"),
    ]
    assert [(e.where, e.reason) for e in page.errors] == [
        ("entry[1]", "no resource"),
        ("entry[2] Organization/?", "id: missing or not a FHIR id: None"),
    ]
    assert (page.total, page.matched, page.entries, page.empty) == (3, 3, 4, False)
    assert page.next_url is not None and "_getpagesoffset=3" in page.next_url


def test_export_with_bad_entries_yields_errors_in_place(tmp_path: Path) -> None:
    items = list(iter_export_records(BAD / "page-with-bad-entries.json"))

    assert [item.resource_id if isinstance(item, Record) else item.where for item in items] == [
        "2222",
        f"{BAD / 'page-with-bad-entries.json'}:entry[1]",
        f"{BAD / 'page-with-bad-entries.json'}:entry[2] Organization/?",
        "1111",
    ]


def test_operation_outcome_page_raises_with_its_diagnostics() -> None:
    with pytest.raises(
        OperationOutcomeError, match="error/forbidden: Header Ror-Profil-Utilisateur-Code manquant"
    ) as raised:
        parse_search_page((BAD / "operation-outcome.json").read_bytes())

    assert raised.value.issues[0].code == "forbidden"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[]", "expected a Bundle object, got a JSON array"),
        (orjson.dumps(read_fixture("Organization-2222-EG.json")), "expected a Bundle, got resourceType 'Organization'"),
        (b'{"resourceType": "Bundle", "total": "3"}', "Bundle.total is a JSON string"),
        (b'{"resourceType": "Bundle", "entry": {}}', "Bundle.entry is a JSON object"),
    ],
)
def test_non_bundle_page_raises(body: bytes, message: str) -> None:
    with pytest.raises(FhirParseError, match=message):
        parse_search_page(body)


def test_bad_ndjson_line_is_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "export.ndjson"
    good = orjson.dumps(read_fixture("Organization-2222-EG.json"))
    path.write_bytes(good + b"\n{not json\n" + orjson.dumps(read_fixture("Organization-1111-EJ.json")) + b"\n")

    items = list(iter_export_records(path))

    assert [type(item).__name__ for item in items] == ["Record", "ResourceError", "Record"]
    error = items[1]
    assert isinstance(error, ResourceError)
    assert error.where == f"{path}:line 2" and error.payload == b"{not json"
