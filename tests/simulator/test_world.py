"""The synthetic world: deterministic, complete, valid FHIR R4 following the ROR IG, queryable per EG."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from rorsync import codes
from rorsync.simulator.world.elements import reference_id
from rorsync.simulator.world.generator import SCALES, build_world
from rorsync.simulator.world.ids import luhn_digit
from rorsync.simulator.world.store import WorldStore
from rorsync.sources.fhir import profile
from tests.simulator import ig
from tests.simulator.coverage import contact_points, features

Json = dict[str, Any]
FHIR_MODULES = {
    "Organization": "organization",
    "HealthcareService": "healthcareservice",
    "Location": "location",
    "PractitionerRole": "practitionerrole",
    "Practitioner": "practitioner",
}
EXPECTED_FEATURES = {
    *(f"type:{kind}" for kind in FHIR_MODULES),
    *(f"creation-date:{kind}" for kind in FHIR_MODULES),
    "ej", "eg", "oi-level:1", "oi-level:2", "oi-level:3",
    "eg:drop-zone", "eg:orsan", "organization:closed", "organization:closing-type",
    *(f"organization-contact-level:{level}" for level in (1, 2, 3)),
    *(f"offer-activity:{code}" for code in ("01", "02", "03", "04", "05")),
    "offer:sensitive", "offer:closed", "offer:age-range",
    *(f"offer-restricted:{table}" for table in profile.RESTRICTED_CHARACTERISTIC_TABLES),
    *(f"offer-contact-level:{level}" for level in (1, 2, 3)),
    *(f"offer-telecom-level:{level}" for level in (1, 2, 3)),
    *(f"location-status:{code}" for code in ("OP", "FT", "FD")),
    "location-identifier:25", "location-identifier:26",
    *(f"location-telecom-level:{level}" for level in (1, 2, 3)),
    "location:residential", "location:equipment", "location:shared", "location:shared-sensitive-and-not",
    "location:managed-by-eg",
    *(f"capacity-status:{code}" for code in ("01", "02", "03", "04", "05", "06")),
    *(f"capacity-gender:{code}" for code in ("01", "02", "04")),
    "capacity-status:05+closing_type", "capacity-status:06+additional_bed_type", "capacity-status:06+crisis_type",
    "capacity-temporary_assignment:02", "capacity:forecast", "role:exercise-mode",
}  # fmt: skip


def bodies(store: WorldStore) -> list[Json]:
    return [resource.json() for resource in store.iter_resources()]


def test_the_same_seed_gives_the_same_world_and_another_seed_another(tmp_path: Path, tiny_world_file: Path) -> None:
    again, other = tmp_path / "again.sqlite", tmp_path / "other.sqlite"
    build_world(again, SCALES["tiny"], 7)
    build_world(other, SCALES["tiny"], 8)
    reference, same, different = WorldStore(tiny_world_file), WorldStore(again), WorldStore(other)
    try:
        assert [r.body for r in same.iter_resources()] == [r.body for r in reference.iter_resources()]
        assert [r.body for r in different.iter_resources()] != [r.body for r in reference.iter_resources()]
        assert same.load_ids() == reference.load_ids()
    finally:
        for store in (reference, same, different):
            store.close()


def test_tiny_covers_every_category_of_real_data(world: WorldStore) -> None:
    found = features(bodies(world))
    assert EXPECTED_FEATURES - found == set()
    assert "offer-telecom:below-contact-level" not in found  # RG_EXP_034


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tiny_covers_every_category_whatever_the_seed(seed: int, tmp_path: Path) -> None:
    build_world(tmp_path / "w.sqlite", SCALES["tiny"], seed)
    store = WorldStore(tmp_path / "w.sqlite")
    try:
        assert EXPECTED_FEATURES - features(bodies(store)) == set()
    finally:
        store.close()


def test_every_resource_is_valid_fhir_r4(world: WorldStore) -> None:
    """fhir.resources 8 ships R4B (R4 with the 4.3 corrections; the five ROR types are unchanged)."""
    validated: dict[str, int] = {}
    for body in bodies(world):
        module = importlib.import_module(f"fhir.resources.R4B.{FHIR_MODULES[body['resourceType']]}")
        getattr(module, body["resourceType"]).model_validate(body)
        validated[body["resourceType"]] = validated.get(body["resourceType"], 0) + 1
    assert set(validated) == set(FHIR_MODULES) and min(validated.values()) > 20


def test_extensions_follow_the_ig_structure_definitions(world: WorldStore, shared_dir: Path) -> None:
    definitions = ig.load_extension_definitions(shared_dir / "ror" / "fhir")
    assert profile.EXT_LOC_SUPPORTED_CAPACITY in definitions
    errors, checked = [], set()
    for body in bodies(world):
        for where, ext in ig.iter_extensions(body, f"{body['resourceType']}/{body['id']}"):
            if ext["url"] in definitions:
                checked.add(ext["url"])
                errors += ig.check_extension(ext, definitions[ext["url"]], where)
    assert errors == []
    assert checked == set(definitions) - {profile.EXT_CONTACT_CONFIDENTIALITY} | {profile.EXT_CONTACT_CONFIDENTIALITY}


def test_extension_urls_are_the_shared_vocabulary_and_match_the_search_parameters(
    world: WorldStore, shared_dir: Path
) -> None:
    vocabulary = {value for value in vars(profile).values() if isinstance(value, str)}
    indexed = ig.search_parameter_paths(shared_dir / "ror" / "fhir")
    used: dict[str, set[str]] = {}
    for body in bodies(world):
        for _, ext in ig.iter_extensions(body):
            used.setdefault(ext["url"], set()).update(sub["url"] for sub in ext.get("extension", ()))
    top_level = {url for url in used if url.startswith(("http://", "https://"))}
    assert {url for url in top_level if not url.startswith(ig_adxp())} - vocabulary == set()
    for url, names in indexed.items():
        if url in used:
            assert names <= used[url], f"{url}: the IG searches {names - used[url]} which the world never writes"


def ig_adxp() -> str:
    return "http://hl7.org/fhir/StructureDefinition/iso21090-ADXP-"


def test_every_nos_coding_is_a_current_code_of_its_table(world: WorldStore) -> None:
    def codings(node: Any) -> list[Json]:
        if isinstance(node, dict):
            found = [node] if "system" in node and "code" in node else []
            return found + [c for value in node.values() for c in codings(value)]
        if isinstance(node, list):
            return [c for value in node for c in codings(value)]
        return []

    unknown = set()
    for body in bodies(world):
        for coding in codings(body):
            table_id = codes.table_for_system(coding["system"])
            if table_id is None:
                continue
            try:
                current = codes.table(table_id).current_codes()
            except KeyError:
                continue  # TRE_R343, JDV_J224: newer than the packaged bundle, listed in profile.py
            if coding["code"] not in current:
                unknown.add((table_id, coding["code"]))
    assert unknown - {("TRE_G07", profile.ID_NAT_STRUCT_TYPE)} == set()


def test_identifiers_follow_the_ror_patterns(world: WorldStore) -> None:
    by_system: dict[str, dict[str, str]] = {}
    for body in bodies(world):
        idents = {ident.get("system", ""): ident["value"] for ident in body.get("identifier", ())}
        region = body["meta"]["tag"][0]["code"]
        kind = body["resourceType"]
        if profile.SYSTEM_FINESS in idents:  # EG
            finess = idents[profile.SYSTEM_FINESS]
            department = finess[:3] if finess.startswith("97") else finess[:2]
            assert codes.region_of_department(department) == region, body["id"]
            assert idents[profile.SYSTEM_ID_NAT_STRUCT] == f"1{finess}"
            siret = idents[profile.SYSTEM_SIRENE]
            assert len(siret) == 14 and luhn_digit(siret[:-1]) == siret[-1]
        elif profile.SYSTEM_SIRENE in idents and kind == "Organization":  # EJ
            siren = idents[profile.SYSTEM_SIRENE]
            assert len(siren) == 9 and luhn_digit(siren[:-1]) == siren[-1]
            assert idents[profile.SYSTEM_ID_NAT_STRUCT] == f"2{siren}"
        elif profile.SYSTEM_OI in idents:
            assert re.fullmatch(rf"{region}/\d+", idents[profile.SYSTEM_OI])
        elif kind in ("HealthcareService", "Location"):
            first = body["identifier"][0]
            assert re.fullmatch(rf"{region}/\d+", first["value"])
            assert first["type"]["coding"][0]["system"] in (profile.ID_TYPE_R355, profile.ID_TYPE_R354)
        elif kind == "Practitioner":
            assert re.fullmatch(r"\d{11}", idents[profile.SYSTEM_IDNAT_PS])
        for system, value in idents.items():
            assert by_system.setdefault(system, {}).setdefault(f"{kind}:{value}", body["id"]) == body["id"]


def test_meta_tags_creation_dates_and_telecom_markers_are_everywhere(world: WorldStore) -> None:
    for body in bodies(world):
        assert "profile" not in body["meta"]
        assert body["meta"]["lastUpdated"] and body["meta"]["tag"][0]["system"] == profile.REGION_TAG_SYSTEM
        assert any(ext["url"] == profile.EXT_CREATION_DATE for ext in body["extension"])
        for point in contact_points(body):
            urls = {ext["url"] for ext in point["extension"]}
            assert {profile.EXT_TELECOM_CHANNEL, profile.EXT_TELECOM_CONFIDENTIALITY} <= urls, body["id"]


def test_every_reference_resolves_to_a_resource_of_the_world(world: WorldStore) -> None:
    keys = {(body["resourceType"], body["id"]) for body in bodies(world)}
    targets = {"partOf": "Organization", "providedBy": "Organization", "organization": "Organization"}
    targets |= {"location": "Location", "practitioner": "Practitioner", "healthcareService": "HealthcareService"}
    for body in bodies(world):
        for element, target in targets.items():
            value = body.get(element)
            for ref in value if isinstance(value, list) else [value] if value else []:
                assert (target, reference_id(ref, target)) in keys, f"{body['id']}.{element} → {ref}"


def test_a_subtree_holds_the_establishment_and_everything_that_belongs_to_it(world: WorldStore) -> None:
    for establishment_id in world.establishment_ids():
        subtree = world.subtree(establishment_id)
        assert subtree is not None and subtree.legal_entity is not None
        assert reference_id(subtree.establishment.get("partOf"), "Organization") == subtree.legal_entity["id"]
        organizations = {establishment_id} | {oi["id"] for oi in subtree.internal_organizations}
        assert all(reference_id(oi["partOf"], "Organization") in organizations for oi in subtree.internal_organizations)
        offer_ids = {offer["id"] for offer in subtree.offers}
        assert all(reference_id(offer["providedBy"], "Organization") in organizations for offer in subtree.offers)
        used = {reference_id(ref, "Location") for offer in subtree.offers for ref in offer.get("location", ())}
        managed = {loc["id"] for loc in subtree.locations if "managingOrganization" in loc}
        assert {location["id"] for location in subtree.locations} == used | managed
        assert all(
            loc["managingOrganization"]["reference"] == f"Organization/{establishment_id}"
            for loc in subtree.locations
            if loc["id"] in managed
        )
        assert not managed & used
        assert all(
            reference_id(role["healthcareService"][0], "HealthcareService") in offer_ids for role in subtree.roles
        )
        practitioners = {reference_id(role["practitioner"], "Practitioner") for role in subtree.roles}
        assert {p["id"] for p in subtree.practitioners} == practitioners
        assert all(world.establishment_of("HealthcareService", offer_id) == establishment_id for offer_id in offer_ids)


def test_locations_inherit_the_sensitivity_of_the_offers_that_use_them(world: WorldStore) -> None:
    offers = list(world.iter_resources("HealthcareService"))
    sensitive_locations = {
        reference_id(ref, "Location") for offer in offers if offer.sensitive for ref in offer.json().get("location", ())
    }
    assert sensitive_locations
    for location in world.iter_resources("Location"):
        assert location.sensitive == (location.resource_id in sensitive_locations)


def test_bodies_are_compact_json(world: WorldStore) -> None:
    resource = next(world.iter_resources("Location"))
    assert resource.body == orjson.dumps(orjson.loads(resource.body))


@pytest.mark.slow
def test_small_covers_every_region(tmp_path: Path) -> None:
    path = tmp_path / "small.sqlite"
    build_world(path, SCALES["small"], 3)
    store = WorldStore(path)
    try:
        regions = {resource.region for resource in store.iter_resources("Organization")}
        assert regions == {
            "11",
            "24",
            "27",
            "28",
            "32",
            "44",
            "52",
            "53",
            "75",
            "76",
            "84",
            "93",
            "94",
            "01",
            "02",
            "03",
            "04",
            "06",
        }
        assert 5_000 <= store.count() <= 15_000
    finally:
        store.close()
