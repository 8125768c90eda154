"""The pending guide changes (fhir-mev3.md §12) and older forms give the same rows; confidentiality markers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rorsync.model import Record
from rorsync.sources.fhir import profile
from rorsync.sources.fhir.parse import record_from_resource
from tests.sources.fhir.conftest import read_fixture

Resource = dict[str, Any]


def mapped(resource: Resource) -> Record:
    record = record_from_resource(resource)
    assert record is not None
    return record


def rows(record: Record) -> tuple[Any, ...]:
    """Everything a record carries except its payload (which differs by construction)."""
    return (
        record.entity,
        record.resource_id,
        record.last_updated,
        record.region,
        record.row,
        record.codes,
        record.contacts,
        record.capacities,
        record.equipment,
        record.residential,
        record.location_refs,
    )


FR_CORE_TYPES = {"1": "FINEG", "2": "SIREN", "3": "SIRET", "40": "IDNST"}


def fr_core_identifier_types(resource: Resource) -> Resource:
    for identifier in resource["identifier"]:
        code = identifier["type"]["coding"][0]["code"]
        identifier["type"] = {"coding": [{"system": profile.ID_TYPE_FR_CORE, "code": FR_CORE_TYPES[code]}]}
    return resource


def legacy_sirene_system(resource: Resource) -> Resource:
    for identifier in resource["identifier"]:
        if identifier["system"] == profile.SYSTEM_SIRENE:
            identifier["system"] = profile.SYSTEM_SIRENE_LEGACY
    return resource


def without_identifier_types(resource: Resource) -> Resource:
    for identifier in resource["identifier"]:
        del identifier["type"]
    return resource


def new_oi_profile_without_type(resource: Resource) -> Resource:
    resource["meta"]["profile"] = [
        "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-internal-organization"
    ]
    del resource["identifier"][0]["type"]
    return resource


def capacity_values(form: str) -> Callable[[Resource], Resource]:
    """Capacity codes as ``valueCode`` (the older FSH variant) or ``valueCoding``."""

    def change(resource: Resource) -> Resource:
        for extension in resource["extension"]:
            if extension["url"] != profile.EXT_LOC_SUPPORTED_CAPACITY:
                continue
            for sub in extension["extension"]:
                concept = sub.pop("valueCodeableConcept", None)
                if concept is not None:
                    coding = concept["coding"][0]
                    sub[form] = coding["code"] if form == "valueCode" else coding
        return resource

    return change


def age_range_in_ucum(resource: Resource) -> Resource:
    for extension in resource["extension"]:
        if extension["url"] == profile.EXT_HS_PATIENT_TYPE:
            for bound in ("low", "high"):
                quantity = extension["extension"][0]["valueRange"][bound]
                extension["extension"][0]["valueRange"][bound] = {
                    "value": quantity["value"],
                    "unit": "a",
                    "system": profile.UCUM,
                    "code": "a",
                }
    return resource


ANNUAIRE_NEW = "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-ext-practitionerrole-"


def annuaire_extension_urls(resource: Resource) -> Resource:
    for extension in resource["extension"]:
        if "/practitionerRole-" in extension["url"]:
            extension["url"] = ANNUAIRE_NEW + extension["url"].rpartition("practitionerRole-")[2].lower()
    return resource


def annuaire_extension_urls_hyphenated(resource: Resource) -> Resource:
    for extension in resource["extension"]:
        if "/practitionerRole-" in extension["url"]:
            name = extension["url"].rpartition("practitionerRole-")[2]
            extension["url"] = ANNUAIRE_NEW + "".join(f"-{c.lower()}" if c.isupper() else c for c in name)
    return resource


def mss_mailbox_profile(resource: Resource) -> Resource:
    """FR Core / Annuaire ``AsMailboxMSSProfile``: ``system=email`` typed MSSANTE, no ROR channel extension."""
    for point in resource["telecom"]:
        point["extension"] = [
            extension for extension in point["extension"] if extension["url"] != profile.EXT_TELECOM_CHANNEL
        ] + [
            {
                "url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type",
                "valueCoding": {
                    "system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-contact-point-email-type",
                    "code": "MSSANTE",
                },
            }
        ]
    return resource


def absolute_and_versioned_references(resource: Resource) -> Resource:
    resource["providedBy"]["reference"] = (
        "https://api-fhir.ror.esante.gouv.fr/ws-diffusion-fhir/Organization/999999/_history/3"
    )
    return resource


def region_tag_as_oid(resource: Resource) -> Resource:
    resource["meta"]["tag"][0]["system"] = "urn:oid:1.2.250.1.213.2.25"
    return resource


@pytest.mark.parametrize(
    ("fixture", "variant"),
    [
        ("Organization-1111-EJ.json", fr_core_identifier_types),
        ("Organization-2222-EG.json", fr_core_identifier_types),
        ("Organization-1111-EJ.json", legacy_sirene_system),
        ("Organization-1111-EJ.json", without_identifier_types),
        ("Organization-2222-EG.json", without_identifier_types),
        ("Organization-999999-OI.json", new_oi_profile_without_type),
        ("Location-ror-location-exemple-1.json", capacity_values("valueCode")),
        ("Location-ror-location-exemple-1.json", capacity_values("valueCoding")),
        ("HealthcareService-1234564.json", age_range_in_ucum),
        ("HealthcareService-1234564.json", absolute_and_versioned_references),
        ("HealthcareService-1234564.json", region_tag_as_oid),
        ("PractitionerRole-ror-practitionerrole-exemple.json", annuaire_extension_urls),
        ("PractitionerRole-ror-practitionerrole-exemple.json", annuaire_extension_urls_hyphenated),
        ("Practitioner-ror-practitioner-exemple.json", mss_mailbox_profile),
    ],
    ids=lambda value: value if isinstance(value, str) else getattr(value, "__name__", "variant"),
)
def test_variant_gives_the_same_rows(fixture: str, variant: Callable[[Resource], Resource]) -> None:
    assert rows(mapped(variant(read_fixture(fixture)))) == rows(mapped(read_fixture(fixture)))


def test_siret_routes_to_eg_whatever_the_type_coding() -> None:
    resource = read_fixture("Organization-2222-EG.json")
    resource["identifier"] = [{"system": profile.SYSTEM_SIRENE_LEGACY, "value": "92131725800017"}]
    del resource["partOf"]
    resource["type"] = []

    row = mapped(resource).row

    assert (row["kind"], row["siret"], row["siren"]) == ("EG", "92131725800017", None)  # type: ignore[typeddict-item]


def test_siren_with_a_parent_is_not_an_ej() -> None:
    resource = read_fixture("Organization-2222-EG.json")
    resource["identifier"].append({"system": profile.SYSTEM_SIRENE, "value": "921317258"})

    assert mapped(resource).row["kind"] == "EG"  # type: ignore[typeddict-item]


def test_organization_without_any_routing_clue_is_rejected() -> None:
    resource = read_fixture("Organization-1111-EJ.json")
    resource["identifier"] = []
    resource["type"] = []

    with pytest.raises(ValueError, match=r"Organization/1111: identifier: cannot tell EJ, EG and OI apart"):
        record_from_resource(resource)


# --- confidentiality -----------------------------------------------------------------------------------


def test_contact_and_telecom_levels_are_both_kept() -> None:
    record = mapped(read_fixture("Organization-999999-OI.json"))

    assert [(c["contact_confidentiality"], c["telecom_confidentiality"]) for c in record.contacts] == [
        (1, 1),
        (1, 3),  # level-1 contact holding a very restricted telecom (access-policy case 12)
        (None, 2),  # bare telecom: no contact level
    ]


def test_telecom_without_level_gets_none() -> None:
    resource = read_fixture("Location-ror-location-exemple-1.json")
    point = resource["telecom"][0]
    point["extension"] = [e for e in point["extension"] if e["url"] != profile.EXT_TELECOM_CONFIDENTIALITY]

    assert mapped(resource).contacts[0]["telecom_confidentiality"] is None


def test_unknown_level_code_gets_none_rather_than_a_guess() -> None:
    resource = read_fixture("HealthcareService-1234564.json")
    contact = next(e for e in resource["extension"] if e["url"] == profile.EXT_HS_CONTACT)
    contact["extension"][1]["valueCodeableConcept"]["coding"][0]["code"] = "9"

    assert mapped(resource).contacts[0]["contact_confidentiality"] is None


def test_hs_contact_without_telecom_keeps_its_level() -> None:
    resource = read_fixture("HealthcareService-1234564.json")
    contact = next(e for e in resource["extension"] if e["url"] == profile.EXT_HS_CONTACT)
    contact["extension"] = [e for e in contact["extension"] if e["url"] != profile.EXT_HS_CONTACT_TELECOM]
    contact["extension"][1]["valueCodeableConcept"]["coding"][0]["code"] = "2"

    contacts = mapped(resource).contacts

    assert [(c["contact_ord"], c["purpose_code"], c["contact_confidentiality"], c["value"]) for c in contacts] == [
        (0, "06", 2, None)
    ]


def test_missing_sensitive_flag_fails_closed() -> None:
    resource = read_fixture("HealthcareService-1234564.json")
    resource["extension"] = [e for e in resource["extension"] if e["url"] != profile.EXT_HS_SENSITIVE_UNIT]

    assert mapped(resource).row["sensitive"] is True  # type: ignore[typeddict-item]


def test_sensitive_flag_is_read() -> None:
    resource = read_fixture("HealthcareService-1234564.json")
    next(e for e in resource["extension"] if e["url"] == profile.EXT_HS_SENSITIVE_UNIT)["valueBoolean"] = True

    assert mapped(resource).row["sensitive"] is True  # type: ignore[typeddict-item]
