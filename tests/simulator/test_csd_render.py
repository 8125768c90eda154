"""The world rendered as CSD v2.4: XSD-valid for every profile, and describing the same offer as FHIR."""

from __future__ import annotations

import pytest
from lxml import etree

from rorsync.model import Entity
from rorsync.simulator.csd import documents
from rorsync.simulator.csd.establishment import Selection, render
from rorsync.simulator.csd.nodes import Quirks
from rorsync.simulator.csd.organizations import age_measure
from rorsync.simulator.csd.service import CsdSettings
from rorsync.simulator.world.store import WorldStore
from rorsync.sources.csd.parse import parse_lecture
from tests.simulator.csd_support import assert_valid, carried, csd_service, fhir_records

CSD = "{urn:ihe:iti:csd:2013}"


WHOLE = Selection()


def lecture(world: WorldStore, establishment_id: str, profile: int, selection: Selection = WHOLE) -> bytes:
    service = csd_service(world)
    establishment = world.get("Organization", establishment_id)
    assert establishment is not None
    view = service.view(establishment, profile)
    assert view is not None
    return documents.lecture_response(render(service.nodes, view, selection))


@pytest.mark.parametrize("profile", [0, 1, 2, 3])
def test_every_establishment_renders_valid_and_parses_cleanly(world: WorldStore, profile: int) -> None:
    for establishment_id in world.establishment_ids():
        body = lecture(world, establishment_id, profile)
        payload = assert_valid(body)
        result = parse_lecture(body)
        assert not result.errors and not result.warnings, establishment_id
        units = payload.findall(f".//{CSD}facility/{CSD}codedType[@code='4']")
        assert result.facility_number == len(units)


@pytest.mark.parametrize("profile", [1, 2])
def test_csd_and_fhir_describe_the_same_offer(world: WorldStore, profile: int) -> None:
    service = csd_service(world)
    compared = 0
    for establishment_id in world.establishment_ids():
        expected = carried(fhir_records(world, service, establishment_id, profile), source="fhir")
        got = carried(parse_lecture(lecture(world, establishment_id, profile)).records, source="csd")
        assert set(got) == set(expected), establishment_id
        for key, fields in expected.items():
            assert got[key] == fields, (establishment_id, key)
        compared += len(expected)
    kinds = {entity for entity, _ in expected}
    assert compared > 300 and kinds == {entity.value for entity in Entity if entity is not Entity.LOCATION}


def test_a_sensitive_offer_is_absent_for_profile_2(world: WorldStore) -> None:
    sensitive = next(resource for resource in world.iter_resources("HealthcareService") if resource.sensitive)
    assert sensitive.establishment is not None
    identifier = sensitive.json()["identifier"][0]["value"]
    seen = {
        profile: {
            (record.entity, record.resource_id)
            for record in parse_lecture(lecture(world, sensitive.establishment, profile)).records
        }
        for profile in (1, 2)
    }
    assert (Entity.OFFER, identifier) in seen[1] and (Entity.OFFER, identifier) not in seen[2]


def test_very_restricted_contacts_only_for_profile_1(world: WorldStore) -> None:
    levels: dict[int, set[int | None]] = {1: set(), 2: set(), 3: set(), 0: set()}
    for establishment_id in world.establishment_ids():
        for profile, found in levels.items():
            for record in parse_lecture(lecture(world, establishment_id, profile)).records:
                found.update(row["contact_confidentiality"] for row in record.contacts)
                found.update(row["telecom_confidentiality"] for row in record.contacts)
    assert 3 in levels[1]
    assert 3 not in levels[2] | levels[3] | levels[0]
    assert 2 not in levels[0]


def test_filters_keep_the_units_asked_for_and_the_organizations_above_them(world: WorldStore) -> None:
    hospital = max(
        world.establishment_ids(), key=lambda eg: sum(1 for _ in world.iter_resources("Organization", establishment=eg))
    )
    whole = parse_lecture(lecture(world, hospital, 1)).records
    fields = {record.row["activity_field_code"] for record in whole if record.entity is Entity.OFFER}  # type: ignore[typeddict-item]
    wanted = sorted(fields)[0]
    body = lecture(world, hospital, 1, Selection(activity_fields=frozenset({wanted})))
    assert_valid(body)
    result = parse_lecture(body)
    offers = [record for record in result.records if record.entity is Entity.OFFER]
    assert offers and all(record.row["activity_field_code"] == wanted for record in offers)  # type: ignore[typeddict-item]
    assert not result.errors and result.facility_number == len(offers)
    assert len(offers) < sum(1 for record in whole if record.entity is Entity.OFFER)


def test_restricted_organisation_drops_the_unit_subclasses(world: WorldStore) -> None:
    establishment_id = next(
        eg
        for eg in world.establishment_ids()
        if any(
            b'"ror-location-supported-capacity"' in r.body or b"supported-capacity" in r.body
            for r in world.iter_resources("Location", establishment=eg)
        )
    )
    body = lecture(world, establishment_id, 1, Selection(restricted=True))
    payload = assert_valid(body)
    for name in ("accommodationCapacity", "location", "equipment", "resourcesSkills", "specificAct"):
        assert payload.find(f".//{CSD}facility/{CSD}extension/{CSD}{name}") is None, name
    assert payload.find(f".//{CSD}facility/{CSD}extension/{CSD}careMode") is not None
    assert not any(record.entity is Entity.LOCATION for record in parse_lecture(body).records)


def test_quirks_are_off_by_default_and_reproduce_the_mock_when_on(world: WorldStore) -> None:
    establishment_id = world.establishment_ids()[0]
    tidy = lecture(world, establishment_id, 1)
    assert b'codingScheme="1.2.250.1.213.3.3.8 "' not in tidy and b"+0" in tidy
    service = csd_service(world, CsdSettings(quirks=Quirks.parse(["trailing-space-oids", "naive-datetimes"])))
    establishment = world.get("Organization", establishment_id)
    assert establishment is not None
    view = service.view(establishment, 1)
    assert view is not None
    quirky = documents.lecture_response(render(service.nodes, view))
    root = etree.fromstring(quirky)
    schemes = {element.get("codingScheme") for element in root.iter() if element.get("codingScheme")}
    assert schemes and all(scheme.endswith(" ") for scheme in schemes)
    updated = [element.get("updated") for element in root.iter(f"{CSD}record")]
    assert updated and not any("+" in value for value in updated)
    assert_valid(quirky)
    assert {r.resource_id for r in parse_lecture(quirky).records} == {
        r.resource_id for r in parse_lecture(tidy).records
    }


@pytest.mark.parametrize(("years", "expected"), [(18.0, (18, "a")), (0.5, (6, "mo")), (1 / 365.25 * 10, (10, "d"))])
def test_ages_become_integer_measures(years: float, expected: tuple[int, str]) -> None:
    assert age_measure(years) == expected
