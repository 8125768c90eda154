"""Each ROR resource type maps to the expected entity row and child rows (IG example and §13 fixtures)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import pytest

from rorsync.model import CapacityRow, ContactRow, Entity, Record
from rorsync.sources.fhir import profile
from rorsync.sources.fhir.mapping import MAPPERS
from rorsync.sources.fhir.parse import record_from_resource
from tests.sources.fhir.conftest import read_fixture

UTC = dt.UTC


def mapped(resource: dict[str, Any]) -> Record:
    record = record_from_resource(resource)
    assert record is not None
    return record


def telecom_row(**fields: Any) -> ContactRow:
    row: dict[str, Any] = dict.fromkeys(ContactRow.__annotations__)
    row.update(fields)
    return row  # type: ignore[return-value]


def standard_phone(number: str) -> ContactRow:
    """§13: the public "Standard" contact (level 1) with its public fixed phone."""
    return telecom_row(
        contact_ord=0,
        purpose_code="06",
        contact_confidentiality=1,
        channel_code="2",
        value=number,
        telecom_confidentiality=1,
    )


def indicator(status: str, nb: int, **codes: str) -> CapacityRow:
    row: dict[str, Any] = {
        "capacity_type": "01",
        "status": status,
        "temporality": "01",
        "gender": "",
        "closing_type": "",
        "additional_bed_type": "",
        "crisis_type": "",
        "temporary_assignment": "01",
        "nb": nb,
        "source_type": "01",
        "updated_at": dt.datetime(2024, 7, 8, 18, 15, 39, tzinfo=UTC),
        "comment": None,
    }
    row.update(codes)
    return row  # type: ignore[return-value]


def test_ig_location_example_maps_to_its_row(shared_dir: Path) -> None:
    path = shared_dir / "ror" / "fhir" / "Location-ror-location-exemple.json"
    data = path.read_bytes()

    record = record_from_resource(orjson.loads(data), data)

    assert record is not None
    assert (record.entity, record.resource_id, record.region) == (Entity.LOCATION, "ror-location-exemple", None)
    assert record.last_updated == dt.datetime(2023, 12, 20, 9, 0, tzinfo=UTC)
    assert record.payload is data
    assert record.row == {
        "location_identifier": None,
        "external_sync_id": None,
        "name": None,
        "description": None,
        "function_code": "001",
        "operational_status": None,
        "status": None,
        "address_line": "7 rue porte de Buc",
        "postal_code": "78000",
        "city": "Versailles",
        "commune_cog": "78646",
        "latitude": None,
        "longitude": None,
        "managing_organization_ref": None,
        "part_of_ref": None,
    }
    assert (record.capacities, record.equipment, record.residential, record.contacts, record.codes) == (
        [],
        [],
        [],
        [],
        [],
    )


def test_location_example_1_keeps_its_five_indicators() -> None:
    record = mapped(read_fixture("Location-ror-location-exemple-1.json"))

    assert (record.resource_id, record.region) == ("ror-location-exemple-1", "24")
    assert record.last_updated == dt.datetime(2024, 7, 8, 18, 15, 40, 512000, tzinfo=UTC)
    assert record.row == {
        "location_identifier": "24/1073",
        "external_sync_id": None,
        "name": "UNITE DE SURVEILLANCE CONTINUE CHIR",
        "description": None,
        "function_code": "001",
        "operational_status": "OP",
        "status": "active",
        "address_line": "14 AV DE L'HOPITAL",
        "postal_code": "45000",
        "city": "ORLEANS",
        "commune_cog": "45234",
        "latitude": 47.834781,
        "longitude": 1.92204,
        "managing_organization_ref": "2222",
        "part_of_ref": None,
    }
    assert record.capacities == [
        indicator("01", 15),
        indicator("06", 0, additional_bed_type="03", crisis_type="02"),
        indicator("02", 0, gender="02"),
        indicator("02", 0, gender="01"),
        indicator("02", 3, gender="03"),  # Indifférencié: deprecated in TRE_R332, still stored as received
    ]
    assert record.contacts == [telecom_row(channel_code="2", value="0238514444", telecom_confidentiality=2)]


def test_healthcare_service_1234564() -> None:
    record = mapped(read_fixture("HealthcareService-1234564.json"))

    assert (record.entity, record.resource_id, record.region) == (Entity.OFFER, "1234564", "06")
    assert record.last_updated == dt.datetime(2025, 4, 8, 7, 12, 44, 270000, tzinfo=UTC)
    assert record.row == {
        "offer_identifier": "06/0099999",
        "name": "5812  Chirurgie gynécologique - HOSPITALISATION COMPLETE",
        "organization_ref": "999999",
        "activity_field_code": "01",
        "category_code": "157",
        "care_mode_code": None,
        "sensitive": False,
        "age_min": 15.0,
        "age_max": 150.0,
        "closed_from": None,
        "reopening_at": None,
        "closing_type_code": None,
        "comment": None,
    }
    assert record.codes == [
        {"kind": "expertise_level", "table_id": "TRE_R253", "code": "04"},
        {"kind": "annual_opening", "table_id": "TRE_R238", "code": "02"},
        {"kind": "specialty", "table_id": "TRE_R211", "code": "022"},
    ]
    assert record.contacts == [standard_phone("0199999999")]
    assert record.location_refs == ["888888"]


def test_eg_quietude_bois_colombes() -> None:
    record = mapped(read_fixture("Organization-2222-EG.json"))

    assert (record.entity, record.resource_id, record.region) == (Entity.ORGANIZATION, "2222", "11")
    assert record.row == {
        "kind": "EG",
        "parent_ref": "1111",
        "name": "Quiétude BOIS COLOMBES",
        "alias": None,
        "finess": "458174839",
        "siren": None,
        "siret": None,
        "id_nat_struct": "1458174839",
        "oi_id": None,
        "category_code": "460",
        "legal_status_code": None,
        "oi_type_code": None,
        "address_line": "45 rue du général Leclerc",
        "postal_code": "92270",
        "city": "BOIS-COLOMBES",
        "commune_cog": None,
        "opening_date": dt.date(2019, 3, 1),
        "closing_date": None,
        "closing_type_code": None,
        "reopening_date": None,
        "drop_zone": None,
        "orsan_level_code": None,
        "comment": None,
    }
    assert record.contacts == [standard_phone("0147000000")]


def test_ej_quietude() -> None:
    record = mapped(read_fixture("Organization-1111-EJ.json"))

    assert record.row["kind"] == "EJ"
    assert {key: record.row[key] for key in ("siren", "id_nat_struct", "legal_status_code", "parent_ref")} == {  # type: ignore[literal-required]
        "siren": "921317258",
        "id_nat_struct": "2921317258",
        "legal_status_code": "72",
        "parent_ref": None,
    }
    assert record.row["address_line"] == "12 avenue de la République, Bâtiment B"  # type: ignore[typeddict-item]
    assert record.codes == [{"kind": "aggregate", "table_id": "TRE_R69", "code": "2200"}]
    # A contact without telecom is kept as one row, with its level.
    assert record.contacts == [
        telecom_row(
            contact_ord=0,
            contact_name="Claire Martin",
            purpose_code="01",
            function_code="01",
            contact_confidentiality=2,
        )
    ]


def test_oi_routed_by_its_identifier_system() -> None:
    record = mapped(read_fixture("Organization-999999-OI.json"))

    row = record.row
    assert (row["kind"], row["oi_id"], row["oi_type_code"], row["parent_ref"]) == ("OI", "11/4567", "2", "2222")  # type: ignore[typeddict-item]
    assert (row["opening_date"], row["closing_date"], row["reopening_date"]) == (  # type: ignore[typeddict-item]
        dt.date(2020, 6, 1),
        dt.date(2025, 2, 1),
        dt.date(2025, 9, 1),
    )
    assert record.contacts == [
        telecom_row(
            contact_ord=0,
            purpose_code="02",
            contact_confidentiality=1,
            channel_code="2",
            value="0147000001",
            telecom_confidentiality=1,
        ),
        telecom_row(
            contact_ord=0,
            purpose_code="02",
            contact_confidentiality=1,
            channel_code="1",
            value="0611223344",
            telecom_confidentiality=3,
        ),
        telecom_row(channel_code="3", value="accueil.saad@quietude.mssante.fr", telecom_confidentiality=2),
    ]


def test_practitioner_and_role() -> None:
    practitioner = mapped(read_fixture("Practitioner-ror-practitioner-exemple.json"))
    role = mapped(read_fixture("PractitionerRole-ror-practitionerrole-exemple.json"))

    assert practitioner.row == {
        "idnat_ps": "11111573474",
        "family_name": "DUPONT",
        "given_name": "Marie Anne",
        "prefix": "MME",
    }
    assert practitioner.contacts == [
        telecom_row(channel_code="3", value="marie.dupont@infirmier.mssante.fr", telecom_confidentiality=2)
    ]
    assert role.row == {
        "situation_identifier": "11102379616",
        "practitioner_ref": "ror-practitioner-exemple",
        "offer_ref": "1234564",
        "organization_ref": None,
        "location_ref": None,
        "profession_code": "60",
        "exercise_mode_code": "L",
    }
    assert role.codes == [
        {"kind": "savoir_faire", "table_id": "TRE_R04", "code": "S"},
        {"kind": "contracted", "table_id": "TRE_R282", "code": "1"},
        {"kind": "vitale_accepted", "table_id": None, "code": "true"},
    ]


@pytest.mark.parametrize(
    ("resource_type", "skipped"),
    [("Task", True), ("Questionnaire", True), ("OperationOutcome", True), ("Person", True), ("Organization", False)],
)
def test_types_the_mirror_does_not_keep_map_to_none(resource_type: str, skipped: bool) -> None:
    resource = read_fixture("Organization-2222-EG.json") | {"resourceType": resource_type}

    assert (record_from_resource(resource) is None) is skipped


def test_payload_defaults_to_the_compact_serialisation() -> None:
    resource = read_fixture("Practitioner-ror-practitioner-exemple.json")

    assert mapped(resource).payload == orjson.dumps(resource)


def test_offer_closure_is_data() -> None:
    resource = read_fixture("HealthcareService-1234564.json")
    resource["notAvailable"] = [
        {"description": "Travaux", "during": {"start": "2025-05-01T00:00:00+02:00", "end": "2025-09-01"}}
    ]
    resource["characteristic"].append(
        {
            "coding": [
                {
                    "system": "https://mos.esante.gouv.fr/NOS/JDV_J185-TypeFermeture-ROR/FHIR/JDV-J185-TypeFermeture-ROR",
                    "code": "PRO",
                }
            ]
        }
    )

    row = mapped(resource).row

    assert row["closed_from"] == dt.datetime(2025, 4, 30, 22, 0, tzinfo=UTC)  # type: ignore[typeddict-item]
    assert row["reopening_at"] == dt.datetime(2025, 8, 31, 22, 0, tzinfo=UTC)  # date only: midnight, Paris time
    assert row["closing_type_code"] == "PRO"  # type: ignore[typeddict-item]


def test_restricted_characteristics_keep_their_kind() -> None:
    resource = read_fixture("HealthcareService-1234564.json")
    act_system = "https://mos.esante.gouv.fr/NOS/TRE_R210-ActeSpecifique/FHIR/TRE-R210-ActeSpecifique"
    act_type = "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-act-type"
    resource["characteristic"] = [
        {"coding": [{"system": act_system, "code": "0002"}]},
        {
            "extension": [{"url": act_type, "valueCode": "outsideOfficeAct"}],
            "coding": [{"system": act_system, "code": "0005"}],
        },
        {
            "coding": [
                {
                    "system": "https://mos.esante.gouv.fr/NOS/TRE_R213-ModePriseEnCharge/FHIR/TRE-R213-ModePriseEnCharge",
                    "code": "09",
                }
            ]
        },
    ]

    record = mapped(resource)

    assert record.row["care_mode_code"] == "09"  # type: ignore[typeddict-item]
    assert [(code["kind"], code["code"]) for code in record.codes if code["table_id"] == "TRE_R210"] == [
        ("specific_act", "0002"),
        ("outside_office_act", "0005"),
    ]


def test_duplicate_capacity_indicator_keeps_the_newest() -> None:
    resource = read_fixture("Location-ror-location-exemple-1.json")
    installed = resource["extension"][2]
    newer = orjson.loads(orjson.dumps(installed))
    for sub in newer["extension"]:
        if sub["url"] == "nbCapacity":
            sub["valueInteger"] = 20
        if sub["url"] == "capacityUpdateDate":
            sub["valueDateTime"] = "2024-07-09T08:00:00+02:00"
    resource["extension"].insert(2, newer)

    record = mapped(resource)

    installed_rows = [row for row in record.capacities if row["status"] == "01"]
    assert [(row["nb"], row["updated_at"]) for row in installed_rows] == [
        (20, dt.datetime(2024, 7, 9, 6, 0, tzinfo=UTC))
    ]
    assert len(record.capacities) == 5


def test_every_mirrored_resource_type_has_a_mapper() -> None:
    assert set(MAPPERS) == set(profile.RESOURCE_TYPES)
