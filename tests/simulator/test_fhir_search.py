"""Search semantics: _lastUpdated prefixes, _tag, _id/identifier lists, paging, total, cap, includes, capacity."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rorsync.simulator.fhir.search import date_range
from rorsync.simulator.fhir.service import FhirSettings
from rorsync.simulator.server import Simulator
from rorsync.simulator.world.instants import fhir_instant, parse_instant
from rorsync.sources.fhir import profile
from tests.simulator.client import SimClient
from tests.simulator.conftest import TINY_SEED

Json = dict[str, Any]


def last_updated(body: Json) -> int:
    return parse_instant(body["meta"]["lastUpdated"])


async def test_paging_through_next_links_reaches_every_result_exactly_once(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    client = SimClient(sim, session, 1)
    bundles, entries = await client.search_all("HealthcareService", {"_count": "40"})
    ids = [entry["resource"]["id"] for entry in entries]
    expected = sorted(body["id"] for body in sim.served(1, "HealthcareService"))
    assert sorted(ids) == expected and len(ids) == len(set(ids))
    assert len(bundles) == -(-len(expected) // 40)
    assert all(page["total"] == len(expected) and page["type"] == "searchset" for page in bundles)
    assert all(
        "_getpages=" in link["url"] for page in bundles[:-1] for link in page["link"] if link["relation"] == "next"
    )


async def test_page_size_defaults_to_200_and_never_exceeds_it(sim: Simulator, session: aiohttp.ClientSession) -> None:
    client = SimClient(sim, session, 1)
    for params in (None, {"_count": "1000"}):
        _, bundle = await client.get("HealthcareService", params)
        assert len(bundle["entry"]) == 200 and bundle["total"] > 200


async def test_count_zero_reports_only_the_total(sim: Simulator, session: aiohttp.ClientSession) -> None:
    status, bundle = await SimClient(sim, session, 1).get("Location", {"_count": "0"})
    assert status == 200 and "entry" not in bundle and bundle["total"] == len(list(sim.served(1, "Location")))


@pytest.mark.parametrize("prefix", ["eq", "ge", "gt", "le", "lt"])
async def test_last_updated_prefixes(sim: Simulator, session: aiohttp.ClientSession, prefix: str) -> None:
    served = list(sim.served(1, "Organization"))
    pivot = sorted(last_updated(body) for body in served)[len(served) // 2]
    compare = {
        "eq": lambda value: value == pivot,
        "ge": lambda value: value >= pivot,
        "gt": lambda value: value > pivot,
        "le": lambda value: value <= pivot,
        "lt": lambda value: value < pivot,
    }[prefix]
    expected = sorted(body["id"] for body in served if compare(last_updated(body)))
    found = await SimClient(sim, session, 1).ids("Organization", {"_lastUpdated": f"{prefix}{fhir_instant(pivot)}"})
    assert sorted(found) == expected and expected


async def test_repeated_last_updated_bounds_combine(sim: Simulator, session: aiohttp.ClientSession) -> None:
    served = list(sim.served(1, "Location"))
    stamps = sorted(last_updated(body) for body in served)
    low, high = stamps[len(stamps) // 4], stamps[3 * len(stamps) // 4]
    params = [("_lastUpdated", f"ge{fhir_instant(low)}"), ("_lastUpdated", f"lt{fhir_instant(high)}")]
    found = await SimClient(sim, session, 1).ids("Location", params)
    assert sorted(found) == sorted(body["id"] for body in served if low <= last_updated(body) < high)


async def test_a_date_without_time_covers_the_whole_paris_day(sim: Simulator, session: aiohttp.ClientSession) -> None:
    served = list(sim.served(1, "HealthcareService"))
    day = served[0]["meta"]["lastUpdated"][:10]
    found = await SimClient(sim, session, 1).ids("HealthcareService", {"_lastUpdated": day})
    assert sorted(found) == sorted(body["id"] for body in served if body["meta"]["lastUpdated"][:10] == day)


@given(
    pivot=st.integers(1_500_000_000_000, 1_900_000_000_000).map(lambda ms: ms * 1000),
    probe=st.integers(-5_000_000, 5_000_000),
    prefix=st.sampled_from(["eq", "ge", "gt", "le", "lt"]),
)
def test_instant_ranges_agree_with_plain_comparison(pivot: int, probe: int, prefix: str) -> None:
    found = date_range(f"{prefix}{fhir_instant(pivot)}", "_lastUpdated")
    value = pivot + probe - probe % 1000
    inside = (found.start is None or value >= found.start) and (found.end is None or value < found.end)
    expected = {
        "eq": value == pivot,
        "ge": value >= pivot,
        "gt": value > pivot,
        "le": value <= pivot,
        "lt": value < pivot,
    }
    assert inside == expected[prefix]


async def test_tag_filters_by_region_code_or_system_and_code(sim: Simulator, session: aiohttp.ClientSession) -> None:
    client = SimClient(sim, session, 1)
    region = next(iter(sim.served(1, "HealthcareService")))["meta"]["tag"][0]["code"]
    expected = sorted(
        body["id"] for body in sim.served(1, "HealthcareService") if body["meta"]["tag"][0]["code"] == region
    )
    assert sorted(await client.ids("HealthcareService", {"_tag": region})) == expected
    assert sorted(await client.ids("HealthcareService", {"_tag": f"{profile.REGION_TAG_SYSTEM}|{region}"})) == expected
    assert await client.ids("HealthcareService", {"_tag": f"http://other.example|{region}"}) == []


async def test_id_and_identifier_accept_comma_lists(sim: Simulator, session: aiohttp.ClientSession) -> None:
    client = SimClient(sim, session, 1)
    establishments = [body for body in sim.served(1, "Organization") if len(body["identifier"]) == 3][:3]
    ids = sorted(body["id"] for body in establishments)
    assert sorted(await client.ids("Organization", {"_id": ",".join(ids)})) == ids
    finess = [next(i for i in body["identifier"] if i["system"] == profile.SYSTEM_FINESS) for body in establishments]
    query = ",".join(f"{ident['system']}|{ident['value']}" for ident in finess[:2]) + f",{finess[2]['value']}"
    assert sorted(await client.ids("Organization", {"identifier": query})) == ids
    assert await client.ids("Organization", {"identifier": f"https://wrong.example|{finess[0]['value']}"}) == []


async def test_sort_by_last_updated_is_honoured(sim: Simulator, session: aiohttp.ClientSession) -> None:
    client = SimClient(sim, session, 1)
    _, ascending = await client.search_all("Practitioner", {"_sort": "_lastUpdated", "_count": "17"})
    stamps = [last_updated(entry["resource"]) for entry in ascending]
    assert stamps == sorted(stamps)
    _, descending = await client.search_all("Practitioner", {"_sort": "-_lastUpdated"})
    assert [last_updated(entry["resource"]) for entry in descending] == sorted(stamps, reverse=True)


async def test_the_result_cap_bounds_what_is_reachable_but_not_the_total(
    world_copy: Path, session: aiohttp.ClientSession
) -> None:
    async with Simulator(
        scale="tiny", seed=TINY_SEED, world_path=world_copy, settings=FhirSettings(result_cap=25)
    ) as sim:
        bundles, entries = await SimClient(sim, session, 1).search_all("HealthcareService", {"_count": "10"})
        assert len(entries) == 25
        assert bundles[0]["total"] == len(list(sim.served(1, "HealthcareService"))) > 25


async def test_includes_follow_the_references_and_mark_entries(sim: Simulator, session: aiohttp.ClientSession) -> None:
    client = SimClient(sim, session, 1)
    params = [
        ("_count", "200"),
        ("_include", "HealthcareService:organization"),
        ("_include:iterate", "Organization:partof"),
        ("_include", "HealthcareService:location"),
        ("_revinclude", "PractitionerRole:service"),
        ("_include", "PractitionerRole:practitioner"),
    ]
    _, entries = await client.search_all("HealthcareService", params)
    by_mode: dict[str, set[tuple[str, str]]] = {"match": set(), "include": set()}
    for entry in entries:
        by_mode[entry["search"]["mode"]].add((entry["resource"]["resourceType"], entry["resource"]["id"]))
    included_types = {kind for kind, _ in by_mode["include"]}
    assert included_types == {"Organization", "Location", "PractitionerRole", "Practitioner"}
    offers = [entry["resource"] for entry in entries if entry["search"]["mode"] == "match"]
    organizations = {ident for kind, ident in by_mode["include"] if kind == "Organization"}
    for offer in offers:
        provider = offer["providedBy"]["reference"].removeprefix("Organization/")
        assert provider in organizations
    served_orgs = {body["id"]: body for body in sim.served(1, "Organization")}
    for ident in organizations:  # :iterate climbs to the EJ: every included parent is included too
        parent = served_orgs[ident].get("partOf", {}).get("reference", "").removeprefix("Organization/")
        assert not parent or parent in organizations


async def test_location_revinclude_brings_the_offers_that_use_it(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    client = SimClient(sim, session, 1)
    _, entries = await client.search_all("Location", {"_revinclude": "HealthcareService:location"})
    offers = [entry["resource"] for entry in entries if entry["search"]["mode"] == "include"]
    assert offers and all(entry["resourceType"] == "HealthcareService" for entry in offers)
    locations = {entry["resource"]["id"] for entry in entries if entry["search"]["mode"] == "match"}
    assert all(
        any(ref["reference"].removeprefix("Location/") in locations for ref in offer["location"]) for offer in offers
    )


async def test_location_status_and_capacity_parameters(sim: Simulator, session: aiohttp.ClientSession) -> None:
    client = SimClient(sim, session, 1)
    served = list(sim.served(1, "Location"))
    closed = sorted(body["id"] for body in served if body["operationalStatus"]["code"] == "FD")
    assert closed and sorted(await client.ids("Location", {"operational-status": "FD"})) == closed
    inactive = sorted(body["id"] for body in served if body["status"] == "inactive")
    assert sorted(await client.ids("Location", {"status": "inactive"})) == inactive

    def lines(body: Json) -> list[dict[str, Any]]:
        found = []
        for ext in body.get("extension", ()):
            if ext["url"] == profile.EXT_LOC_SUPPORTED_CAPACITY:
                values = {sub["url"]: sub for sub in ext["extension"]}
                found.append(
                    {
                        "status": values["capacityStatus"]["valueCodeableConcept"]["coding"][0]["code"],
                        "nb": values["nbCapacity"]["valueInteger"],
                        "updated": parse_instant(values["capacityUpdateDate"]["valueDateTime"]),
                    }
                )
        return found

    supplementary = sorted(body["id"] for body in served if any(line["status"] == "06" for line in lines(body)))
    assert supplementary and sorted(await client.ids("Location", {"capacity-status": "06"})) == supplementary
    large = sorted(body["id"] for body in served if any(line["nb"] > 20 for line in lines(body)))
    assert large and sorted(await client.ids("Location", {"nb-capacity": "gt20"})) == large
    updates = sorted(line["updated"] for body in served for line in lines(body))
    since = updates[len(updates) // 2]
    recent = sorted(body["id"] for body in served if any(line["updated"] >= since for line in lines(body)))
    assert sorted(await client.ids("Location", {"capacity-update-date": f"ge{fhir_instant(since)}"})) == recent


async def test_capacity_search_is_no_oracle_for_hidden_lines(sim: Simulator, session: aiohttp.ClientSession) -> None:
    assert await SimClient(sim, session, 1).ids("Location", {"capacity-status": "06"})
    assert await SimClient(sim, session, 2).ids("Location", {"capacity-status": "06"}) == []
    assert await SimClient(sim, session, 5).ids("Location", {"capacity-status": "02"}) == []


@pytest.mark.parametrize(
    "params",
    [
        {"name": "x"},
        {"_sort": "name"},
        {"_lastUpdated": "ge2024-13-45"},
        {"_include": "Location:organization"},
        {"_count": "-1"},
    ],
)
async def test_unsupported_or_malformed_parameters_are_refused(
    sim: Simulator, session: aiohttp.ClientSession, params: dict[str, str]
) -> None:
    status, outcome = await SimClient(sim, session, 1).get("HealthcareService", params)
    assert status == 400 and outcome["resourceType"] == "OperationOutcome"


async def test_read_by_id_and_404_for_unknown_ids(sim: Simulator, session: aiohttp.ClientSession) -> None:
    client = SimClient(sim, session, 1)
    body = next(sim.served(1, "Location"))
    assert await client.get(f"Location/{body['id']}") == (200, body)
    status, outcome = await client.get("Location/000")
    assert status == 404 and outcome["resourceType"] == "OperationOutcome"


async def test_an_expired_search_is_gone(sim: Simulator, session: aiohttp.ClientSession) -> None:
    status, _ = await SimClient(sim, session, 1).get(f"{sim.fhir_base_url}?_getpages=nope&_getpagesoffset=200")
    assert status == 410


def test_date_only_values_follow_their_precision() -> None:
    may = date_range("ge2024-05", "_lastUpdated")
    assert may.start == parse_instant("2024-05-01T00:00:00+02:00") and may.end is None
    year = date_range("2024", "_lastUpdated")
    assert year.end == parse_instant(dt.datetime(2025, 1, 1).isoformat())


async def test_reference_parameters_select_by_target(sim: Simulator, session: aiohttp.ClientSession) -> None:
    client = SimClient(sim, session, 1)
    served = list(sim.served(1, "Organization"))
    parent = next(body["partOf"]["reference"] for body in served if body.get("partOf"))
    parent_id = parent.rpartition("/")[2]
    _, children = await client.search_all("Organization", {"partof": parent})
    expected = sorted(b["id"] for b in served if b.get("partOf", {}).get("reference", "").endswith(f"/{parent_id}"))
    assert sorted(e["resource"]["id"] for e in children) == expected and expected
    offers = [b for b in sim.served(1, "HealthcareService") if b.get("providedBy")]
    provider = offers[0]["providedBy"]["reference"].rpartition("/")[2]
    _, provided = await client.search_all("HealthcareService", {"organization": f"{provider},unknown"})
    assert {e["resource"]["providedBy"]["reference"].rpartition("/")[2] for e in provided} == {provider}
    status, bundle = await client.get("PractitionerRole", {"practitioner": "nobody"})
    assert status == 200 and bundle["total"] == 0
