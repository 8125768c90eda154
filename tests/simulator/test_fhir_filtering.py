"""Server-side filtering by access profile: what each profile receives, per access-policy §6–§8."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from rorsync.simulator.server import Simulator
from rorsync.simulator.world.elements import level_of
from rorsync.simulator.world.index import capacity_code
from rorsync.simulator.world.store import WorldStore
from rorsync.sources.fhir import profile
from tests.simulator.client import SimClient
from tests.simulator.coverage import contact_points, features

Json = dict[str, Any]
PROFILES = (0, 1, 2, 3, 4, 5)


def served_by_key(sim: Simulator, access_profile: int) -> dict[tuple[str, str], Json]:
    return {(body["resourceType"], body["id"]): body for body in sim.served(access_profile)}


def sensitive_offers(world: WorldStore) -> list[str]:
    return [r.resource_id for r in world.iter_resources("HealthcareService") if r.sensitive]


def capacity_lines(body: Json) -> list[Json]:
    return [ext for ext in body.get("extension", ()) if ext["url"] == profile.EXT_LOC_SUPPORTED_CAPACITY]


def telecom_levels(body: Json) -> set[int]:
    return {level_of(point["extension"], profile.EXT_TELECOM_CONFIDENTIALITY) or 0 for point in contact_points(body)}


@pytest.mark.parametrize(
    ("access_profile", "visible"), [(0, False), (1, True), (2, False), (3, False), (4, True), (5, False)]
)
async def test_a_sensitive_offer_is_visible_to_profiles_1_and_4_only(
    sim: Simulator, session: aiohttp.ClientSession, access_profile: int, visible: bool
) -> None:
    offer_id = sensitive_offers(sim.world)[0]
    client = SimClient(sim, session, access_profile)
    status, _ = await client.get(f"HealthcareService/{offer_id}")
    assert (status == 200) is visible
    assert (offer_id in await client.ids("HealthcareService", {"_id": offer_id})) is visible
    assert (("HealthcareService", offer_id) in served_by_key(sim, access_profile)) is visible


async def test_locations_of_sensitive_offers_are_hidden_even_when_shared(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    sensitive = {r.resource_id for r in sim.world.iter_resources("Location") if r.sensitive}
    shared = [
        location
        for location in sensitive
        if len(
            {
                offer
                for offer in sim.world.iter_resources("HealthcareService")
                if f'"Location/{location}"' in offer.body.decode()
            }
        )
        > 1
    ]
    assert sensitive and shared
    served_p2 = {ident for kind, ident in served_by_key(sim, 2) if kind == "Location"}
    assert not sensitive & served_p2
    client = SimClient(sim, session, 2)
    params = [("_include", "HealthcareService:location"), ("_count", "200")]
    _, entries = await client.search_all("HealthcareService", params)
    included = {entry["resource"]["id"] for entry in entries if entry["resource"]["resourceType"] == "Location"}
    assert included and not included & sensitive
    assert {ident for kind, ident in served_by_key(sim, 1) if kind == "Location"} >= sensitive


def test_very_restricted_telecoms_reach_profile_1_only(sim: Simulator) -> None:
    ceilings = {0: 1, 1: 3, 2: 2, 3: 2, 4: 1, 5: 2}
    for access_profile, ceiling in ceilings.items():
        levels = set().union(*(telecom_levels(body) for body in sim.served(access_profile)))
        assert max(levels) == ceiling, access_profile


def test_a_contact_telecom_needs_both_levels(sim: Simulator) -> None:
    for body in sim.served(2, "HealthcareService"):
        for ext in body.get("extension", ()):
            if ext["url"] == profile.EXT_HS_CONTACT:
                assert (level_of(ext["extension"], profile.EXT_CONFIDENTIALITY) or 0) <= 2
                for sub in ext["extension"]:
                    if sub["url"] == profile.EXT_HS_CONTACT_TELECOM:
                        assert (level_of(sub["extension"], profile.EXT_TELECOM_CONFIDENTIALITY) or 0) <= 2


def test_capacity_lines_follow_each_profile(sim: Simulator) -> None:
    def statuses(access_profile: int) -> set[str]:
        return {
            capacity_code(line, "status")
            for body in sim.served(access_profile, "Location")
            for line in capacity_lines(body)
        }

    def supplementary(access_profile: int) -> int:
        return sum(
            1
            for body in sim.served(access_profile, "Location")
            for line in capacity_lines(body)
            if capacity_code(line, "status") == "06"
            or capacity_code(line, "additional_bed_type")
            or capacity_code(line, "crisis_type")
        )

    assert statuses(0) == set()
    assert statuses(5) == {"01"}
    assert statuses(1) == statuses(4) == {"01", "02", "03", "04", "05", "06"}
    assert supplementary(1) > 0 and supplementary(4) > 0
    assert supplementary(2) == supplementary(3) == supplementary(5) == 0
    assert "06" not in statuses(2) and "02" in statuses(2)


def test_profile_3_sees_operational_capacity_of_medico_social_locations_only(sim: Simulator) -> None:
    medico_social = {r.resource_id for r in sim.world.iter_resources("Location") if r.medico_social}
    for body in sim.served(3, "Location"):
        if capacity_lines(body):
            assert body["id"] in medico_social


def test_drop_zone_and_orsan_reach_profiles_1_and_4_only(sim: Simulator) -> None:
    for access_profile in PROFILES:
        found = features(sim.served(access_profile, "Organization"))
        expected = access_profile in (1, 4)
        assert ("eg:drop-zone" in found) is expected and ("eg:orsan" in found) is expected


def test_restricted_description_and_equipment_never_reach_profile_0(sim: Simulator) -> None:
    found = features(sim.served(0))
    assert not {feature for feature in found if feature.startswith("offer-restricted:")}
    assert "location:equipment" not in found
    assert {"location:equipment", "offer-restricted:TRE_R210"} <= features(sim.served(1))


def test_profile_3_sees_restricted_description_of_medico_social_offers_only(sim: Simulator) -> None:
    for body in sim.served(3, "HealthcareService"):
        restricted = {f for f in features([body]) if f.startswith("offer-restricted:")}
        if restricted:
            assert "offer-activity:04" in features([body])


def test_personal_data_is_withheld_from_profiles_0_and_4(sim: Simulator) -> None:
    for access_profile in (0, 4):
        kinds = {kind for kind, _ in served_by_key(sim, access_profile)}
        assert not kinds & {"Practitioner", "PractitionerRole"}
    assert {"Practitioner", "PractitionerRole"} <= {kind for kind, _ in served_by_key(sim, 1)}


@pytest.mark.parametrize("access_profile", PROFILES)
def test_redaction_only_removes_whole_elements(sim: Simulator, access_profile: int) -> None:
    full = served_by_key(sim, 1)
    for key, body in served_by_key(sim, access_profile).items():
        assert is_pruned(body, full[key]), key
        assert body["id"] == full[key]["id"] and body["meta"] == full[key]["meta"]
        assert body.get("identifier") == full[key].get("identifier")


def is_pruned(small: Any, big: Any) -> bool:
    """``small`` is ``big`` with some list items or keys removed, and never an empty list."""
    if isinstance(small, dict):
        return isinstance(big, dict) and all(key in big and is_pruned(value, big[key]) for key, value in small.items())
    if isinstance(small, list):
        if not small or not isinstance(big, list):
            return False
        remaining = iter(big)
        return all(any(is_pruned(item, candidate) for candidate in remaining) for item in small)
    return bool(small == big)
