"""The CSD SOAP 1.2 endpoint as rorsync's own CSD client layer talks to it (requests built by
``rorsync.sources.csd.messages``, answers read by its parsers)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from lxml import etree

from rorsync.model import Entity
from rorsync.simulator.cli_runner import describe
from rorsync.simulator.server import Simulator
from rorsync.simulator.tls import client_context
from rorsync.simulator.world.instants import to_micros
from rorsync.sources.csd.errors import CsdResponseError, CsdServiceError
from rorsync.sources.csd.messages import (
    SoapRequest,
    build_lecture_establishment_request,
    build_lecture_internal_organisation_request,
    build_notif_request,
)
from rorsync.sources.csd.parse import LectureResult, parse_lecture
from rorsync.sources.csd.responses import parse_notif, raise_for_service_error
from rorsync.sources.csd.vihf import VihfSettings
from rorsync.sources.fhir import profile as fhir_profile
from tests.simulator.conftest import TINY_SEED
from tests.simulator.csd_support import assert_valid

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "ror" / "csd" / "samples"
CSD = "{urn:ihe:iti:csd:2013}"
PARIS_DST_END = dt.datetime(2025, 10, 26, 0, 30, tzinfo=dt.UTC)  # 02:30 CEST; 02:30 happens again at 01:30Z


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = to_micros(start)

    def __call__(self) -> int:
        return self.now

    def set(self, moment: dt.datetime) -> None:
        self.now = to_micros(moment)


@pytest.fixture
def clock() -> Clock:
    return Clock(PARIS_DST_END - dt.timedelta(hours=1))


@pytest.fixture
async def clocked_sim(world_copy: Path, clock: Clock) -> AsyncIterator[Simulator]:
    async with Simulator(scale="tiny", seed=TINY_SEED, world_path=world_copy, clock=clock) as running:
        yield running


async def post(
    session: aiohttp.ClientSession, sim: Simulator, request: SoapRequest, profile: int = 1
) -> tuple[int, bytes]:
    async with session.post(sim.csd_endpoint_url(profile), data=request.body, headers=request.headers) as response:
        assert response.content_type == "application/soap+xml"
        return response.status, await response.read()


def id_nat_struct(sim: Simulator, establishment_id: str) -> str:
    found = sim.world.get("Organization", establishment_id)
    assert found is not None
    return next(i["value"] for i in found.json()["identifier"] if i.get("system") == fhir_profile.SYSTEM_ID_NAT_STRUCT)


async def notified(
    session: aiohttp.ClientSession, sim: Simulator, since: dt.datetime, **filters: list[str]
) -> set[str]:
    status, body = await post(session, sim, build_notif_request(since, **filters))
    assert status == 200
    assert_valid(body)
    result = parse_notif(body)
    assert result.result_count == len(result.establishments)
    return {entry.id_nat_struct for entry in result.establishments}


async def test_notif_lists_the_establishments_changed_after_date_ref_across_the_dst_change(
    clocked_sim: Simulator, clock: Clock, session: aiohttp.ClientSession
) -> None:
    sim = clocked_sim
    changed: dict[str, set[str]] = {}
    for label, moment in (
        ("first 02:30", PARIS_DST_END),
        ("second 02:30", PARIS_DST_END + dt.timedelta(hours=1)),
        ("after", PARIS_DST_END + dt.timedelta(hours=2, minutes=30)),
    ):
        clock.set(moment)
        applied = sim.apply_changes(3, kind="update")
        changed[label] = {sim.world.establishment_of(*key) or "" for change in applied for key in change.written} - {""}

    def expected(since: dt.datetime) -> set[str]:
        ids = sim.world.establishments_changed_since(to_micros(since))
        return {id_nat_struct(sim, eg) for eg in ids if sim.world.get("Organization", eg) is not None}

    all_three = await notified(session, sim, PARIS_DST_END)  # sent as the naive, ambiguous 02:30
    assert all_three == expected(PARIS_DST_END)
    assert {id_nat_struct(sim, eg) for label in changed for eg in changed[label]} <= all_three
    later = await notified(session, sim, PARIS_DST_END + dt.timedelta(hours=1, minutes=31))  # 03:01 CET
    assert later == expected(PARIS_DST_END + dt.timedelta(hours=1, minutes=31))
    assert {id_nat_struct(sim, eg) for eg in changed["after"]} <= later < all_three
    assert await notified(session, sim, PARIS_DST_END + dt.timedelta(hours=3)) == set()


async def test_notif_filters_on_champ_and_public(sim: Simulator, session: aiohttp.ClientSession) -> None:
    long_ago = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    everything = await notified(session, sim, long_ago)
    medico_social = await notified(session, sim, long_ago, activity_fields=["04"])
    assert len(everything) == len(sim.world.establishment_ids())
    assert medico_social and medico_social < everything
    _, body = await post(session, sim, build_notif_request(long_ago, activity_fields=["04"]))
    assert all("04" in entry.activity_fields for entry in parse_notif(body).establishments)
    elderly = await notified(session, sim, long_ago, activity_fields=["04"], supported_patients=["01"])
    assert elderly and elderly <= medico_social


async def lecture(
    session: aiohttp.ClientSession, sim: Simulator, request: SoapRequest, profile: int = 1
) -> LectureResult:
    status, body = await post(session, sim, request, profile)
    assert status == 200, body
    assert_valid(body)
    result = parse_lecture(body)
    assert not result.errors and not result.warnings
    return result


async def test_lecture_with_date_ref_answers_only_when_the_establishment_changed(
    clocked_sim: Simulator, clock: Clock, session: aiohttp.ClientSession
) -> None:
    sim = clocked_sim
    clock.set(PARIS_DST_END)
    sim.apply_changes(1, kind="capacity")
    establishment = next(e.establishment for e in sim.world.journal(since=to_micros(PARIS_DST_END)) if e.establishment)
    quiet = next(
        eg
        for eg in sim.world.establishment_ids()
        if eg not in sim.world.establishments_changed_since(to_micros(PARIS_DST_END))
    )
    since = PARIS_DST_END - dt.timedelta(minutes=5)
    for authority in ("1.2.250.1.71.4.2.2", "1.2.250.1.71.1.2.14"):
        request = build_lecture_establishment_request(
            id_nat_struct(sim, establishment), assigning_authority=authority, date_ref=since
        )
        result = await lecture(session, sim, request)
        assert result.facility_number and any(record.entity is Entity.OFFER for record in result.records)
    request = build_lecture_establishment_request(id_nat_struct(sim, quiet), date_ref=since)
    result = await lecture(session, sim, request)
    assert result.records == [] and result.facility_number == 0
    whole = await lecture(session, sim, build_lecture_establishment_request(id_nat_struct(sim, quiet)))
    assert whole.records


async def test_lecture_of_an_internal_organisation_returns_its_subtree(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    services = [
        resource
        for resource in sim.world.iter_resources("Organization")
        if b'"code":"2"' in resource.body and fhir_profile.SYSTEM_OI.encode() in resource.body
    ]
    service = services[0].json()
    identifier = service["identifier"][0]["value"]
    result = await lecture(session, sim, build_lecture_internal_organisation_request(identifier))
    assert result.facility_number is None
    organizations = {r.resource_id: r for r in result.records if r.entity is Entity.ORGANIZATION}
    assert identifier in organizations
    offers = [r for r in result.records if r.entity is Entity.OFFER]
    units = {r.resource_id for r in organizations.values() if r.row["parent_ref"] == identifier}  # type: ignore[typeddict-item]
    assert units and offers and all(offer.row["organization_ref"] in units for offer in offers)  # type: ignore[typeddict-item]
    kinds = {r.row["kind"] for r in organizations.values()}  # type: ignore[typeddict-item]
    assert kinds == {"EJ", "EG", "OI"}
    oi_identifiers = {
        r.json()["identifier"][0]["value"]
        for r in sim.world.iter_resources("Organization")
        if fhir_profile.SYSTEM_OI.encode() in r.body
    }
    nested = next(
        offer
        for offer in sim.world.iter_resources("HealthcareService")
        if b"Organization/" in offer.body
        and offer.json()["identifier"][0]["value"] not in oi_identifiers
        and offer.json()["providedBy"]["reference"] != f"Organization/{offer.establishment}"
    )
    single = await lecture(
        session, sim, build_lecture_internal_organisation_request(nested.json()["identifier"][0]["value"])
    )
    assert [r.resource_id for r in single.records if r.entity is Entity.OFFER] == [
        nested.json()["identifier"][0]["value"]
    ]


def _shape(element: etree._Element) -> list[tuple[str, tuple[str, ...], str | None]]:
    """Element names, attribute names and text of a document, whitespace and prefixes aside."""
    return [
        (etree.QName(node).localname, tuple(sorted(node.attrib)), (node.text or "").strip() or None)
        for node in element.iter(etree.Element)
        if etree.QName(node).localname != "Header"
    ]


@pytest.mark.parametrize(
    ("sample", "request_body"),
    [
        ("Lecture_Erreur_444.xml", lambda: build_lecture_establishment_request("1999999999")),
        ("Lecture_Erreur_444.xml", lambda: build_lecture_internal_organisation_request("99/9999999")),
        ("Notif_Erreur_444.xml", None),
    ],
)
async def test_error_444_forms_are_those_of_the_ans_mock(
    sim: Simulator, session: aiohttp.ClientSession, sample: str, request_body: Callable[[], SoapRequest] | None
) -> None:
    if request_body is None:
        body = (
            b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>'
            b'<x:getModificationsRequest xmlns:x="urn:ihe:iti:csd:2013"/></e:Body></e:Envelope>'
        )
        request = SoapRequest("x", "y", body)
    else:
        request = request_body()
    status, answer = await post(session, sim, request)
    assert status == 500
    assert _shape(etree.fromstring(answer)) == _shape(etree.fromstring((SAMPLES / sample).read_bytes()))
    if request_body is not None:
        assert_valid(answer)
    with pytest.raises(CsdServiceError) as raised:
        raise_for_service_error(answer)
    assert raised.value.code == "444" and raised.value.form == ("fault" if request_body is None else "in-band")


async def test_profile_from_the_query_and_an_optional_vihf_header(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    sensitive = next(resource for resource in sim.world.iter_resources("HealthcareService") if resource.sensitive)
    assert sensitive.establishment is not None
    key = (Entity.OFFER, sensitive.json()["identifier"][0]["value"])
    vihf = VihfSettings.for_profile(2, subject_name_id="18751275100020/26", issuer="CN=rorsync-sim-p2")
    request = build_lecture_establishment_request(id_nat_struct(sim, sensitive.establishment), vihf=vihf)
    assert b"Security" in request.body
    seen = {
        profile: {(r.entity, r.resource_id) for r in (await lecture(session, sim, request, profile)).records}
        for profile in (1, 2)
    }
    assert key in seen[1] and key not in seen[2]
    status, body = await post(session, sim, request, profile=7)
    assert status == 400 and b"Sender" in body


async def test_unreadable_requests_get_a_sender_fault(sim: Simulator, session: aiohttp.ClientSession) -> None:
    url = sim.csd_endpoint_url()
    for data, content_type, expected in (
        (b"<not-xml", "application/soap+xml", 400),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><x/>', "application/soap+xml", 400),
        (build_notif_request(dt.datetime.now(dt.UTC)).body, "text/xml", 415),
        (
            build_notif_request(dt.datetime.now(dt.UTC)).body.replace(b"dateRef>2", b"dateRef>x"),
            "application/soap+xml",
            400,
        ),
    ):
        async with session.post(url, data=data, headers={"Content-Type": content_type}) as response:
            assert response.status == expected
            with pytest.raises(CsdServiceError) as raised:
                raise_for_service_error(await response.read())
            assert raised.value.code == "env:Sender"


async def test_faults_apply_to_the_csd_routes(sim: Simulator, session: aiohttp.ClientSession) -> None:
    request = build_notif_request(dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    sim.faults.inject("status", status=503, count=1, path="/CSD_ROR_Binding")
    async with session.post(sim.csd_endpoint_url(), data=request.body, headers=request.headers) as response:
        assert response.status == 503
    sim.faults.inject("malformed", count=1, path="/CSD_ROR_Binding")
    _, body = await post(session, sim, request)
    with pytest.raises(CsdResponseError, match="truncated"):
        parse_notif(body)
    assert await notified(session, sim, dt.datetime(2000, 1, 1, tzinfo=dt.UTC))


async def test_banner_names_the_csd_urls(sim: Simulator) -> None:
    banner = describe(sim)
    assert f"{sim.origin}/ROR/0.1/CSD_ROR_Binding?profil=N" in banner
    assert f"{sim.origin}/V1/extraction/ExtractionOffresSante_Profil{{0,1,2,3}}" in banner


async def test_over_tls_the_certificate_gives_the_profile(world_copy: Path, tmp_path: Path) -> None:
    async with Simulator(world_path=world_copy, tls=True, tls_dir=tmp_path / "tls") as sim:
        assert sim.pki is not None
        sensitive = next(resource for resource in sim.world.iter_resources("HealthcareService") if resource.sensitive)
        assert sensitive.establishment is not None
        request = build_lecture_establishment_request(id_nat_struct(sim, sensitive.establishment))
        key = (Entity.OFFER, sensitive.json()["identifier"][0]["value"])
        async with aiohttp.ClientSession() as session:
            seen = {}
            for profile in (1, 2):
                async with session.post(
                    sim.csd_endpoint_url(),
                    data=request.body,
                    headers=request.headers,
                    ssl=client_context(sim.pki, profile),
                ) as response:
                    assert response.status == 200
                    seen[profile] = {(r.entity, r.resource_id) for r in parse_lecture(await response.read()).records}
            assert key in seen[1] and key not in seen[2]
            async with session.post(
                sim.csd_endpoint_url(), data=request.body, headers=request.headers, ssl=client_context(sim.pki, 4)
            ) as response:
                assert response.status == 403
            async with session.get(sim.extraction_url(3), ssl=client_context(sim.pki, 2)) as response:
                assert response.status == 403
