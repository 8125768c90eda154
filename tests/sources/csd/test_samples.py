"""Every ANS sample parses into the rows a reader of the XML expects (csd-mev24 §16 fixtures)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from rorsync.model import Entity, Record
from rorsync.sources.csd.parse import LectureResult, parse_lecture
from rorsync.sources.csd.responses import parse_notif

Sample = Callable[[str], bytes]

LECTURE_SAMPLES = [
    "EG_Conformite_date0_restriction0_Cas1",
    "EG_Conformite_date0_restriction0_Cas2",
    "EG_Conformite_date0_restriction0_Cas3",
    "EG_Conformite_date0_restriction0_Cas4",
    "EG_Conformite_date0_restriction0_Cas5",
    "EG_Conformite_date1_restriction1_Cas1",
    "EG_Conformite_date1_restriction1_Cas2",
    "OI_Conformite_Demandes_Cas1",
    "OI_Conformite_Demandes_Cas2",
]
MOCK_UPDATED = dt.datetime(2017, 9, 11, 22, 0, tzinfo=dt.UTC)  # 2017-09-12T00:00:00 Paris (CEST)


def by_id(result: LectureResult) -> dict[str, Record]:
    records = {record.resource_id: record for record in result.records}
    assert len(records) == len(result.records), "resource ids must be unique within one answer"
    return records


def codes_of(record: Record, kind: str) -> set[str]:
    return {row["code"] for row in record.codes if row["kind"] == kind}


def test_all_lecture_samples_are_covered(samples_dir: Path) -> None:
    found = {path.stem for path in samples_dir.glob("*.xml") if not path.stem.startswith(("Notif", "Lecture_"))}
    assert found == set(LECTURE_SAMPLES)


@pytest.mark.parametrize("stem", LECTURE_SAMPLES)
def test_every_lecture_sample_parses_completely(sample: Sample, stem: str) -> None:
    result = parse_lecture(sample(stem))
    assert result.errors == []
    records = by_id(result)
    offers = [record for record in result.records if record.entity is Entity.OFFER]
    if result.facility_number is not None:
        assert len(offers) == result.facility_number
    for offer in offers:
        assert offer.location_refs == [f"{offer.resource_id}/location"]
        assert records[offer.location_refs[0]].entity is Entity.LOCATION
    for record in result.records:
        assert record.last_updated.tzinfo is dt.UTC
        assert record.payload.startswith(b"<")


def test_establishment_case_2_gives_the_documented_rows(sample: Sample) -> None:
    result = parse_lecture(sample("EG_Conformite_date0_restriction0_Cas2"))
    records = by_id(result)
    assert result.facility_number == 1
    assert set(records) == {"1070000702", "1071000702", "07/0004", "07/0004/location"}

    ej, eg = records["1070000702"], records["1071000702"]
    assert (ej.row["kind"], ej.row["parent_ref"], ej.row["finess"]) == ("EJ", None, "070000702")
    assert ej.row["legal_status_code"] == "95"
    assert ej.row["name"] == "EJ RETRAITE - SOCIETE PAR ACTIONS SIMPLIFIEE"
    assert (eg.row["kind"], eg.row["parent_ref"], eg.row["id_nat_struct"]) == ("EG", "1070000702", "1071000702")
    assert (eg.row["address_line"], eg.row["city"], eg.row["commune_cog"]) == ("56 rue de l'Hopital", "Aizac", "07003")
    assert ej.region == eg.region == "84"  # FINESS département 07 → Auvergne-Rhône-Alpes
    assert ej.last_updated == MOCK_UPDATED

    offer = records["07/0004"]
    assert offer.row["offer_identifier"] == "07/0004"
    assert offer.row["organization_ref"] == "1071000702"
    assert offer.row["name"] == "MCO - JAURES"
    assert (offer.row["activity_field_code"], offer.row["care_mode_code"]) == ("01", "28")
    assert (offer.row["age_min"], offer.row["age_max"], offer.row["sensitive"]) == (0.0, 99.0, False)
    assert offer.row["closed_from"] is None
    assert codes_of(offer, "specialty") == {"022"}
    assert codes_of(offer, "activity_family") == {"0054"}
    assert codes_of(offer, "resource_profession") == {"10", "SM51"}
    assert {(row["kind"], row["table_id"]) for row in offer.codes} >= {("specialty", "TRE_R211")}
    assert [row["contact_name"] for row in offer.contacts] == ["Albert Moulin"]

    location = records["07/0004/location"]
    assert location.row["name"] == "JAURES"
    assert (location.row["operational_status"], location.row["status"]) == ("OP", "active")
    assert location.row["commune_cog"] == "07003"
    assert location.row["managing_organization_ref"] == "1071000702"
    lines = {(c["capacity_type"], c["status"]): c["nb"] for c in location.capacities}
    assert lines == {("01", "01"): 231, ("01", "02"): 21, ("02", "01"): 231, ("02", "02"): 21}
    assert {c["updated_at"] for c in location.capacities} == {dt.datetime(2017, 10, 18, 22, 0, tzinfo=dt.UTC)}
    assert location.equipment == [{"equipment_type_code": "018", "nb_in_service": 1, "limits": None}]
    assert location.residential == [{"residential_type_code": "02", "number": None}]


def test_establishment_case_1_links_three_offers_to_their_services_and_devices(sample: Sample) -> None:
    records = by_id(parse_lecture(sample("EG_Conformite_date0_restriction0_Cas1")))
    expected = {
        "07/0001": ("02", "28", "233", "EG", ["099"]),
        "07/0002": ("01", "28", "022", "JAURES", ["099"]),
        "07/0003": ("03", "13", "051", "SATURNE", []),
    }
    for offer_id, (field, care_mode, specialty, place, equipment) in expected.items():
        offer = records[offer_id]
        assert (offer.row["activity_field_code"], offer.row["care_mode_code"]) == (field, care_mode)
        assert codes_of(offer, "specialty") == {specialty}
        location = records[f"{offer_id}/location"]
        assert location.row["name"] == place
        assert [row["equipment_type_code"] for row in location.equipment] == equipment


def test_establishment_case_5_attaches_offers_to_two_sites(sample: Sample) -> None:
    records = by_id(parse_lecture(sample("EG_Conformite_date0_restriction0_Cas5")))
    assert records["1071000705"].row["parent_ref"] == records["1074128000"].row["parent_ref"] == "1070000705"
    assert {
        offer: records[offer].row["organization_ref"] for offer in ("07/0007", "07/0008", "07/0009", "07/0010")
    } == {
        "07/0007": "1071000705",
        "07/0008": "1071000705",
        "07/0009": "1074128000",
        "07/0010": "1074128000",
    }


def test_siret_establishment_takes_its_region_from_the_commune(sample: Sample) -> None:
    records = by_id(parse_lecture(sample("EG_Conformite_date1_restriction1_Cas2")))
    eg = records["308100080200024"]
    assert (eg.row["siret"], eg.row["siren"], eg.row["finess"]) == ("08100080200024", "081000802", None)
    assert eg.region == "44"  # commune 08362 (Ardennes) → Grand-Est
    assert records["08/0003"].region == "44"


def test_internal_organisation_answer_rebuilds_the_hierarchy(sample: Sample) -> None:
    result = parse_lecture(sample("OI_Conformite_Demandes_Cas1"))
    records = by_id(result)
    assert result.facility_number is None
    parents = {
        "44/1260": ("1", "344010101100011"),
        "44/1360": ("2", "44/1260"),
        "44/1560": ("3", "44/1360"),
        "44/1661": ("3", "44/1561"),  # labelled "Unité élémentaire" but coded 3: the code wins
    }
    for oi_id, (type_code, parent) in parents.items():
        row = records[oi_id].row
        assert (row["kind"], row["oi_id"], row["oi_type_code"], row["parent_ref"]) == ("OI", oi_id, type_code, parent)
    offer = records["44/1660"]
    assert offer.entity is Entity.OFFER
    assert offer.row["organization_ref"] == "44/1560"
    assert records["44/1660/location"].row["managing_organization_ref"] == "344010101100011"
    assert records["44/1260"].region == "44"  # the OI identifier prefix is a region code
    assert records["344010101100011"].region == "52"  # EG: commune 44109 (Nantes) → Pays de la Loire
    assert sum(record.entity is Entity.ORGANIZATION for record in result.records) == 2 + 11


def test_restricted_answers_never_look_like_deletions(sample: Sample) -> None:
    for restricted, full in (
        ("EG_Conformite_date1_restriction1_Cas1", "EG_Conformite_date0_restriction0_Cas1"),
        ("EG_Conformite_date1_restriction1_Cas2", "EG_Conformite_date0_restriction0_Cas2"),
    ):
        restricted_result = parse_lecture(sample(restricted))
        full_result = parse_lecture(sample(full))
        assert restricted_result.errors == []
        assert [r.entity for r in restricted_result.records if r.entity is not Entity.LOCATION] == [
            r.entity for r in full_result.records if r.entity is not Entity.LOCATION
        ]
        for record in restricted_result.records:
            row = record.row
            assert row.get("closing_date") is None and row.get("closed_from") is None
            assert row.get("operational_status") in (None, "OP")
            if record.entity is Entity.OFFER:
                assert record.codes and record.location_refs


def test_placeholder_update_date_falls_back_to_the_establishment_with_a_warning(sample: Sample) -> None:
    result = parse_lecture(sample("EG_Conformite_date1_restriction1_Cas1"))
    records = by_id(result)
    assert records["08/0001"].last_updated == records["308100080100012"].last_updated == MOCK_UPDATED
    reasons = [str(warning) for warning in result.warnings]
    assert sum("'${dateMoins1h}' is not a dateTime" in reason for reason in reasons) == 3
    assert any("Equipement1" in reason and "deviceDirectory" in reason for reason in reasons)
    assert records["08/0002/location"].equipment == []


@pytest.mark.parametrize(
    ("stem", "establishment", "fields"),
    [
        ("Notif_Conformite_Cas1", "1510000444", ("01", "02", "03")),
        ("Notif_Conformite_Cas2", "1510000032", ("01",)),
        ("Notif_Conformite_Cas3", "1510000035", ("03",)),
        ("Notif_Conformite_Cas4", "1510000035", ("03",)),
    ],
)
def test_notif_samples(sample: Sample, stem: str, establishment: str, fields: tuple[str, ...]) -> None:
    result = parse_notif(sample(stem))
    assert result.result_count == 1
    [found] = result.establishments
    assert (found.id_nat_struct, found.assigning_authority) == (establishment, "1.2.250.1.71.1.2.14")
    assert found.activity_fields == fields
    assert (found.supported_patients, found.restricted) == ((), None)


def test_notif_tolerates_supported_patient_inside_the_establishment(sample: Sample) -> None:
    data = sample("Notif_Conformite_Cas2").replace(
        b"</ns1:etablissementReponseNotif>",
        b'<ns1:supportedPatient code="02" codingScheme="1.2.250.1.213.3.3.29 ">PH</ns1:supportedPatient>'
        b"<ns1:restrictedOrganisation>1</ns1:restrictedOrganisation></ns1:etablissementReponseNotif>",
    )
    [found] = parse_notif(data).establishments
    assert (found.activity_fields, found.supported_patients, found.restricted) == (("01",), ("02",), True)
