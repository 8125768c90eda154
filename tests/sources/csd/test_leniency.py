"""Everything real CSD services send (csd-mev24 §15.5) is accepted and mapped like the clean form."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from rorsync.model import Entity, Record, RecordError
from rorsync.sources.csd.parse import iter_extraction_records, parse_lecture
from rorsync.sources.csd.resolver import CsdResolver

Bytes = Callable[[str], bytes]
Sample = Bytes
FIXTURE = "v24_lenient_extraction.xml"
PARIS_2021_01_07 = dt.datetime(2021, 1, 7, 15, 17, 29, tzinfo=dt.UTC)  # 16:17:29+01:00


def records_of(data: bytes) -> tuple[dict[str, Record], list[RecordError], CsdResolver]:
    resolver = CsdResolver()
    outputs = list(iter_extraction_records(io.BytesIO(data), resolver=resolver))
    outputs += resolver.finish()
    records = {output.resource_id: output for output in outputs if isinstance(output, Record)}
    return records, [output for output in outputs if isinstance(output, RecordError)], resolver


@pytest.fixture(scope="module")
def lenient(fixture_bytes: Bytes) -> tuple[dict[str, Record], list[RecordError], CsdResolver]:
    return records_of(fixture_bytes(FIXTURE))


def test_nothing_is_lost(lenient: tuple[dict[str, Record], list[RecordError], CsdResolver]) -> None:
    records, errors, resolver = lenient
    assert errors == []
    assert set(records) == {
        "12A0000014",  # EJ: empty otherID skipped, idNatStruct derived from its FINESS otherID
        "12A0000022",  # EG: idNatStruct authority with a trailing space; its EJ comes after it
        "94/0100",  # UF: careMode "null"
        "94/0101",  # UE: parentFacility to the UF that follows it
        "94/0101/location",
        "12A0000022#47045_9",  # UE without OI identifier, careMode "", record status "Archive"
        "810000000001",
        "810000000001@94/0101",
        "12A0000022#84267",  # provider without RPPS
        "12A0000022#84267@94/0100",
    }
    assert sorted(str(warning) for warning in resolver.warnings) == [
        "facility entityID='47045_9': no OI identifier (otherID), keyed '12A0000022#47045_9'"
        ": not stable across exports",
        "provider entityID='84267': no otherID (RPPS / idNat_PS), keyed '12A0000022#84267': not stable across exports",
    ]


def test_legal_entity_and_site(lenient: tuple[dict[str, Record], list[RecordError], CsdResolver]) -> None:
    records = lenient[0]
    ej, eg = records["12A0000014"], records["12A0000022"]
    assert (ej.row["kind"], ej.row["finess"], ej.row["legal_status_code"]) == ("EJ", "2A0000014", "1101")
    assert [(c["kind"], c["table_id"], c["code"]) for c in ej.codes] == [("aggregate", "TRE_R69", "1")]
    assert ej.region == eg.region == "94"  # Corsica, from the 2A FINESS
    assert ej.last_updated == dt.datetime(2020, 12, 31, 22, 30, tzinfo=dt.UTC)  # naive: Paris time
    row = eg.row
    assert (row["kind"], row["parent_ref"], row["category_code"]) == ("EG", "12A0000014", "355")
    assert [(c["kind"], c["code"]) for c in eg.codes] == [("espic", "1")]
    assert (row["closing_date"], row["closing_type_code"]) == (dt.date(2030, 1, 1), "PRO")
    assert (row["drop_zone"], row["orsan_level_code"], row["opening_date"]) == (True, "2", dt.date(1990, 5, 2))
    assert (row["address_line"], row["postal_code"], row["city"], row["commune_cog"]) == (
        "27 AV DE L IMPERATRICE EUGENIE",
        "20000",
        "AJACCIO",
        "2A004",
    )
    assert eg.last_updated == PARIS_2021_01_07
    assert [
        (c["contact_ord"], c["contact_confidentiality"], c["channel_code"], c["value"], c["telecom_confidentiality"])
        for c in eg.contacts
    ] == [
        (0, 2, "2", "0495000000", 3),
        (0, 2, "3", "accueil@ch-ajaccio.example", 2),
    ]
    assert {(c["contact_name"], c["function_code"], c["purpose_code"], c["description"]) for c in eg.contacts} == {
        ("Standard", "06", "01", "Accueil")
    }


def test_offer_and_location(lenient: tuple[dict[str, Record], list[RecordError], CsdResolver]) -> None:
    records = lenient[0]
    offer = records["94/0101"]
    row = offer.row
    assert (row["organization_ref"], row["activity_field_code"], row["care_mode_code"], row["category_code"]) == (
        "94/0100",
        "01",
        "28",
        "157",
    )
    assert (row["sensitive"], row["age_min"], row["age_max"]) == (True, 0.5, 120.0)
    assert row["closed_from"] == dt.datetime(2031, 6, 29, 22, 0, tzinfo=dt.UTC)
    assert row["closing_type_code"] == "DEF"
    kinds = {(c["kind"], c["code"]) for c in offer.codes}
    assert kinds == {
        ("patient_type", "04"),
        ("resource_profession", "10"),
        ("specific_competence", "06"),
        ("taking_care_speciality", "012"),
        ("annual_opening", "02"),
        ("psychiatric_sector", "2A01"),
        ("specific_act", "0054"),
        ("expertise_level", "04"),
        ("specialty", "022"),
        ("activity_family", "0054"),
    }
    # the service it cites was updated after the facility: the offer's version follows the latest
    assert offer.last_updated == dt.datetime(2021, 2, 1, 9, 0, tzinfo=dt.UTC)
    assert offer.location_refs == ["94/0101/location"]

    location = records["94/0101/location"]
    assert (location.row["operational_status"], location.row["status"]) == ("FT", "suspended")
    assert (location.row["latitude"], location.row["longitude"], location.row["commune_cog"]) == (
        41.9269,
        8.7361,
        "2A004",
    )
    assert location.row["managing_organization_ref"] == "12A0000022"
    assert {(c["capacity_type"], c["status"], c["temporality"]): c["nb"] for c in location.capacities} == {
        ("01", "01", "01"): 30,
        ("01", "02", "01"): 4,  # schematron spelling "available"
        ("01", "06", "01"): 5,  # crisis capacity at T0
        ("01", "06", "02"): 10,  # crisis capacity within 60 minutes
    }
    assert location.capacities[0]["updated_at"] == dt.datetime(2021, 3, 1, 7, 0, 0, 500_000, tzinfo=dt.UTC)
    assert location.residential == [{"residential_type_code": "01", "number": 12}]
    assert location.equipment == [{"equipment_type_code": "018", "nb_in_service": 2, "limits": None}]
    assert location.last_updated == dt.datetime(2021, 3, 31, 22, 0, tzinfo=dt.UTC)  # the device's update
    assert b"<csd:device" in location.payload and b"<csd:location" in location.payload


def test_internal_organisation_and_keyless_offer(
    lenient: tuple[dict[str, Record], list[RecordError], CsdResolver],
) -> None:
    records = lenient[0]
    unit = records["94/0100"].row
    assert (unit["kind"], unit["oi_type_code"], unit["parent_ref"], unit["opening_date"]) == (
        "OI",
        "3",
        "12A0000022",
        dt.date(2001, 1, 1),
    )
    assert records["94/0100"].last_updated == dt.datetime(2021, 1, 7, 15, 0, tzinfo=dt.UTC)
    keyless = records["12A0000022#47045_9"]
    assert keyless.entity is Entity.OFFER
    assert (keyless.row["offer_identifier"], keyless.row["care_mode_code"], keyless.row["organization_ref"]) == (
        None,
        None,
        "94/0100",
    )
    assert keyless.location_refs == []


def test_practitioners_and_roles(lenient: tuple[dict[str, Record], list[RecordError], CsdResolver]) -> None:
    records = lenient[0]
    practitioner = records["810000000001"]
    assert dict(practitioner.row) == {
        "idnat_ps": "810000000001",
        "family_name": "MARTIN",
        "given_name": "Jeanne",
        "prefix": "DR",
    }
    assert practitioner.codes == []  # the savoir-faire belongs to the role, as in FHIR
    role = records["810000000001@94/0101"]
    assert [(c["kind"], c["code"]) for c in role.codes] == [("savoir_faire", "SM51")]
    assert dict(role.row) == {
        "situation_identifier": None,
        "practitioner_ref": "810000000001",
        "offer_ref": "94/0101",
        "organization_ref": "94/0100",
        "location_ref": "94/0101/location",
        "profession_code": "10",
        "exercise_mode_code": "S",
    }
    assert [(c["channel_code"], c["value"], c["telecom_confidentiality"]) for c in role.contacts] == [
        ("2", "0495000001", 3)
    ]
    nurse_role = records["12A0000022#84267@94/0100"].row
    assert (nurse_role["offer_ref"], nurse_role["organization_ref"], nurse_role["profession_code"]) == (
        None,
        "94/0100",
        "60",
    )
    assert records["12A0000022#84267"].row["family_name"] == "Paul DURAND"


def test_the_same_document_as_a_soap_lecture_answer_gives_the_same_records(
    fixture_bytes: Bytes, lenient: tuple[dict[str, Record], list[RecordError], CsdResolver]
) -> None:
    csd = etree.fromstring(fixture_bytes(FIXTURE))
    envelope = etree.fromstring(
        b'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>'
        b'<careServicesResponse xmlns="urn:ihe:iti:csd:2013"><result><facilityNumber>2</facilityNumber>'
        b"<queryResult/></result></careServicesResponse></env:Body></env:Envelope>"
    )
    query_result = envelope.find(".//{urn:ihe:iti:csd:2013}queryResult")
    query_result.extend(list(csd))
    result = parse_lecture(etree.tostring(envelope))
    assert result.facility_number == 2
    assert {r.resource_id: (r.entity, r.row, r.codes, r.contacts) for r in result.records} == {
        r.resource_id: (r.entity, r.row, r.codes, r.contacts) for r in lenient[0].values()
    }


@pytest.mark.parametrize(
    ("updated", "expected"),
    [
        ("2017-09-13T08:30:00", dt.datetime(2017, 9, 13, 6, 30, tzinfo=dt.UTC)),  # naive, Paris summer time
        ("2017-01-12T00:00:00.0", dt.datetime(2017, 1, 11, 23, 0, tzinfo=dt.UTC)),  # naive winter, fraction
        ("2017-09-12T00:00:00+01:00", dt.datetime(2017, 9, 11, 23, 0, tzinfo=dt.UTC)),
        ("2017-09-12T00:00:00.123456789Z", dt.datetime(2017, 9, 12, 0, 0, 0, 123456, tzinfo=dt.UTC)),
        ("2017-09-12", dt.datetime(2017, 9, 11, 22, 0, tzinfo=dt.UTC)),
    ],
)
def test_record_datetimes(sample: Sample, updated: str, expected: dt.datetime) -> None:
    original = sample("EG_Conformite_date0_restriction0_Cas2")
    ej_record = b'updated="2017-09-12T00:00:00" status="Ok" sourceDirectory="http://esante.gouv.fr"/>\n\t\t\t\t</ns1:organization>'
    data = original.replace(ej_record, ej_record.replace(b"2017-09-12T00:00:00", updated.encode()), 1)
    assert data != original
    ej = parse_lecture(data).records[0]
    assert (ej.resource_id, ej.last_updated) == ("1070000702", expected)


def test_typo_variants_map_like_the_xsd_spelling(sample: Sample) -> None:
    original = sample("EG_Conformite_date0_restriction0_Cas2")
    edited = (
        original.replace(b'avaible="21"', b'available="21"')
        .replace(b"residentialCapactity>", b"residentialCapacity>")
        .replace(b"resourcesSkills>", b"ressourcesSkills>")
        .replace(b'codingScheme="1.2.250.1.213.3.3.12"', b'codingScheme="1.2.250.1.213.3.3.12  "')
    )
    assert edited.count(b"ressourcesSkills") == 2

    def rows(data: bytes) -> dict[str, tuple[object, ...]]:
        return {
            r.resource_id: (r.row, r.codes, r.capacities, r.residential, r.equipment)
            for r in parse_lecture(data).records
        }

    assert rows(edited) == rows(original)


MOCK_RECORD = (
    b'<ns1:record created="2017-09-12T00:00:00" updated="2017-09-12T00:00:00" status="Ok"'
    b' sourceDirectory="http://esante.gouv.fr"/>\n\t\t\t\t'
)


def test_missing_record_takes_the_parents_time_and_other_statuses_are_kept(sample: Sample) -> None:
    original = sample("EG_Conformite_date0_restriction0_Cas2")
    eg_end = b"</ns1:organization>\n\t\t\t</ns1:organizationDirectory>"
    edited = (
        original.replace(MOCK_RECORD + b"</ns1:facility>", b"</ns1:facility>")
        .replace(MOCK_RECORD + b"</ns1:service>", b"</ns1:service>")
        .replace(
            MOCK_RECORD + eg_end,
            b'<ns1:record created="2017-09-11T00:00:00" updated="2017-09-11T00:00:00" status="Supprime"/>' + eg_end,
        )
    )
    assert len(edited) < len(original) - 2 * len(MOCK_RECORD)
    records = {r.resource_id: r for r in parse_lecture(edited).records}
    eg_time = dt.datetime(2017, 9, 10, 22, 0, tzinfo=dt.UTC)
    assert records["1071000702"].last_updated == eg_time  # status "Supprime" is not a deletion
    assert records["07/0004"].last_updated == eg_time  # no record of its own: its EG's


def _shuffled(document: bytes, orders: list[list[int]]) -> bytes:
    root = etree.fromstring(document)
    directories = root.find(".//{urn:ihe:iti:csd:2013}queryResult")
    directories = root if directories is None else directories
    for directory, order in zip(directories, orders, strict=False):
        children = list(directory)
        for child in children:
            directory.remove(child)
        directory.extend(children[index % len(children)] for index in order if children)
    return etree.tostring(root)


def _comparable(records: dict[str, Record]) -> dict[str, tuple[object, ...]]:
    return {
        key: (r.entity, r.row, r.last_updated, r.region, r.codes, r.location_refs, r.equipment)
        for key, r in records.items()
    }


@pytest.mark.parametrize("source", ["fixture", "oi_sample"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_document_order_does_not_change_the_records(
    fixture_bytes: Bytes, sample: Sample, source: str, data: st.DataObject
) -> None:
    """EGs before their EJ, children before their parents: references wait, the result is the same."""
    document = fixture_bytes(FIXTURE) if source == "fixture" else sample("OI_Conformite_Demandes_Cas1")
    root = etree.fromstring(document)
    query = root.find(".//{urn:ihe:iti:csd:2013}queryResult")
    sizes = [len(directory) for directory in (root if query is None else query)]
    orders = [data.draw(st.permutations(range(size))) for size in sizes]
    expected, expected_errors, _ = records_of(document)
    shuffled, errors, _ = records_of(_shuffled(document, [list(order) for order in orders]))
    assert errors == expected_errors == []
    assert _comparable(shuffled) == _comparable(expected)
