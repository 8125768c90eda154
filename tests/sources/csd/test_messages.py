"""Requests built offline by zeep: valid against the XSD, naive Paris ``dateRef``, SOAP 1.2 headers, VIHF."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
from lxml import etree

from rorsync.sources.csd import wsdl
from rorsync.sources.csd.messages import (
    SoapRequest,
    build_lecture_establishment_request,
    build_lecture_internal_organisation_request,
    build_notif_request,
)
from rorsync.sources.csd.vihf import VihfSettings

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
CSD = "urn:ihe:iti:csd:2013"
NS = {"env": SOAP12, "csd": CSD, "ror": "urn:asip:ror:2015", "saml2": "urn:oasis:names:tc:SAML:2.0:assertion"}
INSTANT = dt.datetime(2024, 1, 15, 7, 0, tzinfo=dt.UTC)


def body_of(request: SoapRequest) -> etree._Element:
    envelope = etree.fromstring(request.body)
    assert envelope.tag == f"{{{SOAP12}}}Envelope"
    [payload] = envelope.find("env:Body", NS)
    return payload


def assert_valid(request: SoapRequest) -> etree._Element:
    payload = body_of(request)
    schema = wsdl.load_xml_schema()
    assert schema.validate(payload), schema.error_log
    return payload


def all_requests() -> list[SoapRequest]:
    return [
        build_notif_request(INSTANT),
        build_notif_request(INSTANT, activity_fields=["01", "04"], supported_patients=["02"]),
        build_lecture_establishment_request("1830000002"),
        build_lecture_establishment_request(
            "1830000002",
            date_ref=INSTANT,
            activity_fields=["01"],
            supported_patients=["02"],
            restricted_organisation=False,
        ),
        build_lecture_internal_organisation_request("52/0004"),
    ]


def test_every_request_validates_against_the_contract() -> None:
    for request in all_requests():
        assert_valid(request)
        assert request.body.startswith(b"<?xml version='1.0' encoding='utf-8'?>")


def test_notif_request_shape_and_action() -> None:
    request = build_notif_request(INSTANT, activity_fields=["04"], supported_patients=["01"])
    payload = assert_valid(request)
    assert payload.tag == "{urn:asip:ror:2015}TR-Notif-ListeEtablissementsMajApresDate_Demande"
    assert payload.findtext("csd:params/csd:dateRef", namespaces=NS) == "2024-01-15T08:00:00"
    activity = payload.find("csd:params/csd:typeActivity", NS)
    assert (activity.get("code"), activity.get("codingScheme")) == ("04", "1.2.250.1.213.3.3.17")
    patient = payload.find("csd:params/csd:supportedPatient", NS)
    assert (patient.get("code"), patient.get("codingScheme")) == ("01", "1.2.250.1.213.3.3.29")
    assert request.headers == {
        "Content-Type": 'application/soap+xml; charset=utf-8; action="urn:asip:ror:2015:stored-function:ror-update"'
    }


@pytest.mark.parametrize(
    ("instant", "sent"),
    [
        (dt.datetime(2024, 3, 31, 0, 59, 59, 999_999, tzinfo=dt.UTC), "2024-03-31T01:59:59"),  # last CET second
        (dt.datetime(2024, 3, 31, 1, 0, tzinfo=dt.UTC), "2024-03-31T03:00:00"),  # first CEST second
        (dt.datetime(2024, 10, 27, 0, 30, tzinfo=dt.UTC), "2024-10-27T02:30:00"),  # 02:30 CEST
        (dt.datetime(2024, 10, 27, 1, 30, tzinfo=dt.UTC), "2024-10-27T02:30:00"),  # 02:30 CET, same wall time
        (dt.datetime(2024, 7, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-4))), "2024-07-01T18:00:00"),
    ],
)
def test_date_ref_is_naive_paris_wall_time_across_dst(instant: dt.datetime, sent: str) -> None:
    notif = body_of(build_notif_request(instant))
    assert notif.findtext("csd:params/csd:dateRef", namespaces=NS) == sent
    lecture = body_of(build_lecture_establishment_request("1", date_ref=instant))
    assert lecture.findtext(".//csd:dateRef", namespaces=NS) == sent


def test_date_ref_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        build_notif_request(dt.datetime(2024, 1, 15, 8, 0))


def test_lecture_establishment_request() -> None:
    request = build_lecture_establishment_request(
        "1830000002", date_ref=INSTANT, activity_fields=["01"], restricted_organisation=True
    )
    payload = assert_valid(request)
    function = payload.find("csd:function", NS)
    assert (function.get("urn"), function.get("encapsulated")) == (
        "urn:asip:ror:lecture:offreSoinEtablissement:2017",
        "true",
    )
    demand = function.find("csd:TR_Lecture-OffresSanteEtablissement/csd:etablissementDemandeLecture", NS)
    identifier = demand.find("csd:id_etablissement", NS)
    assert (identifier.get("code"), identifier.get("assigningAuthorityName")) == ("1830000002", "1.2.250.1.71.1.2.14")
    assert [etree.QName(child).localname for child in demand] == [
        "id_etablissement",
        "dateRef",
        "typeActivity",
        "restrictedOrganisation",
    ]
    assert demand.findtext("csd:restrictedOrganisation", namespaces=NS) == "true"
    assert 'action="urn:asip:ror:2015:stored-function:ror-search"' in request.headers["Content-Type"]


def test_lecture_without_options_sends_only_the_establishment() -> None:
    demand = body_of(build_lecture_establishment_request("1830000002")).find(".//csd:etablissementDemandeLecture", NS)
    assert [etree.QName(child).localname for child in demand] == ["id_etablissement"]


def test_lecture_internal_organisation_request() -> None:
    payload = assert_valid(build_lecture_internal_organisation_request("52/0004", assigning_authority="1.2.3"))
    identifier = payload.find("csd:function/csd:TR_Lecture-OffreSanteOrganisationInterne/csd:organisationID", NS)
    assert (identifier.get("code"), identifier.get("assigningAuthorityName")) == ("52/0004", "1.2.3")


def test_vihf_header_is_an_unsigned_saml_assertion() -> None:
    settings = VihfSettings.for_profile(1, subject_name_id="18751275100020/26", issuer="CN=rorsync,O=Example")
    request = build_notif_request(INSTANT, vihf=settings, now=dt.datetime(2024, 1, 15, 9, 30, 5, tzinfo=dt.UTC))
    assert_valid(request)
    envelope = etree.fromstring(request.body)
    security = envelope.find(
        "env:Header/{http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd}Security", NS
    )
    assertion = security.find("saml2:Assertion", NS)
    assert (assertion.get("Version"), assertion.get("IssueInstant")) == ("2.0", "2024-01-15T09:30:05Z")
    assert assertion.get("ID").startswith("_")
    assert assertion.findtext("saml2:Issuer", namespaces=NS) == "CN=rorsync,O=Example"
    assert assertion.findtext("saml2:Subject/saml2:NameID", namespaces=NS) == "18751275100020/26"
    assert not any("Signature" in str(element.tag) for element in assertion.iter())
    values = {
        attribute.get("Name"): attribute.find("saml2:AttributeValue", NS)
        for attribute in assertion.iterfind("saml2:AttributeStatement/saml2:Attribute", NS)
    }
    assert values["VIHF_Version"].text == "2.0"
    assert values["Ressource_URN"].text == "urn:ROR"
    assert values["urn:oasis:names:tc:xspa:1.0:subject:subject-id"].text == "18751275100020/26"
    role = values["urn:oasis:names:tc:xacml:2.0:subject:role"][0]
    assert (role.get("code"), role.get("codeSystem")) == ("AUTOMATE", "1.2.250.1.213.1.1.4.6")
    profile = values["Profil_Utilisateur"][0]
    assert (profile.get("code"), profile.get("codeSystem")) == ("CU22", "1.2.250.1.213.1.6.1.66")
    assert values["VIHF_Profil"][0].get("code") == "profil_referentiel"


def test_no_vihf_no_security_header() -> None:
    envelope = etree.fromstring(build_notif_request(INSTANT).body)
    header = envelope.find("env:Header", NS)
    assert header is None or len(header) == 0


def test_unknown_profile_has_no_cu_code() -> None:
    with pytest.raises(ValueError, match="0, 1, 2, 3"):
        VihfSettings.for_profile(4, subject_name_id="x", issuer="y")


def test_wsdl_loads_without_network_and_once(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the CSD contract must load offline")

    wsdl.load_client.cache_clear()
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    client = wsdl.load_client()
    assert wsdl.load_client() is client
    assert_valid(build_lecture_internal_organisation_request("52/0004"))


def test_offline_transport_refuses_what_is_not_shipped() -> None:
    with pytest.raises(wsdl.OfflineSchemaError, match="not shipped"):
        wsdl.OfflineTransport().load("https://example.org/other.xsd")
