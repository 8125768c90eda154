"""SOAP 1.2 request envelopes for TR-Notif and both TR-Lecture transactions, built by zeep offline.

zeep serialises from the WSDL (so element names, namespaces and order follow the contract, including
its oddities: ``…Etablissements…_Demande`` with an "s", ``TR_Lecture-OffreSanteOrganisationInterne``
with an underscore), and the result is handed over as bytes plus HTTP headers: sending is the
transport's job, not zeep's. SOAP 1.2 carries the action in the Content-Type, not in a SOAPAction
header (csd-mev24 §3).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from lxml import etree

from rorsync import codes
from rorsync.sources.csd.times import paris_naive
from rorsync.sources.csd.vihf import VihfSettings, build_vihf_header
from rorsync.sources.csd.wsdl import load_client

BINDING: Final = "{urn:asip:ror:2015}CareServicesRequest_Binding"
NOTIF_OPERATION: Final = "TR-Notif-ListeEtablissementsMajApresDate_Demande"
LECTURE_OPERATION: Final = "careServicesRequest_Request"
LECTURE_FUNCTION_URN: Final = "urn:asip:ror:lecture:offreSoinEtablissement:2017"  # fixed by the XSD, both Lectures

ESTABLISHMENT_AUTHORITY: Final = codes.table("TRE_G07").oid
"""``assigningAuthorityName`` PLATINES sends with ``id_etablissement`` (the TRE_G07 OID)."""

OI_AUTHORITY: Final = "1.2.250.1.213.6.1.1.1.1.76"
"""Authority of OI identifiers in the ANS mock answers (meaning not documented, csd-mev24 §9.2)."""

ACTIVITY_FIELD_SCHEME: Final = codes.table("TRE_R227").oid
SUPPORTED_PATIENT_SCHEME: Final = codes.table("TRE_R239").oid


@dataclass(frozen=True, slots=True)
class SoapRequest:
    """One ready-to-send request: POST ``body`` with ``headers`` to the CSD endpoint."""

    operation: str
    action: str
    body: bytes

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": f'application/soap+xml; charset=utf-8; action="{self.action}"'}


def _coded(codes_: Sequence[str], scheme: str) -> list[dict[str, str]]:
    return [{"code": code, "codingScheme": scheme} for code in codes_]


def _build(
    operation: str, arguments: dict[str, Any], vihf: VihfSettings | None, now: dt.datetime | None
) -> SoapRequest:
    client = load_client()
    headers = None
    if vihf is not None:
        headers = [build_vihf_header(vihf, now=now or dt.datetime.now(dt.UTC))]
    envelope = client.create_message(client.service, operation, _soapheaders=headers, **arguments)
    action = client.wsdl.bindings[BINDING].get(operation).soapaction
    return SoapRequest(operation, action, etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


def build_notif_request(
    date_ref: dt.datetime,
    *,
    activity_fields: Sequence[str] = (),
    supported_patients: Sequence[str] = (),
    vihf: VihfSettings | None = None,
    now: dt.datetime | None = None,
) -> SoapRequest:
    """TR-Notif: establishments (EG) whose offer changed after ``date_ref`` (aware; sent as naive Paris time)."""
    params: dict[str, Any] = {"dateRef": paris_naive(date_ref)}
    if activity_fields:
        params["typeActivity"] = _coded(activity_fields, ACTIVITY_FIELD_SCHEME)
    if supported_patients:
        params["supportedPatient"] = _coded(supported_patients, SUPPORTED_PATIENT_SCHEME)
    return _build(NOTIF_OPERATION, {"params": params}, vihf, now)


def _lecture(choice: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"function": {choice: params, "urn": LECTURE_FUNCTION_URN, "encapsulated": True}}


def build_lecture_establishment_request(
    id_etablissement: str,
    *,
    assigning_authority: str = ESTABLISHMENT_AUTHORITY,
    date_ref: dt.datetime | None = None,
    activity_fields: Sequence[str] = (),
    supported_patients: Sequence[str] = (),
    restricted_organisation: bool | None = None,
    vihf: VihfSettings | None = None,
    now: dt.datetime | None = None,
) -> SoapRequest:
    """TR-Lecture-OffresSanteEtablissement: the offer of one EG (its idNatStruct), whole or after ``date_ref``.

    Mirroring needs ``restricted_organisation`` unset or False: a restricted tree lacks most UE
    attributes and must never be read as a deletion of them (csd-mev24 §10).
    """
    demand: dict[str, Any] = {
        "id_etablissement": {"code": id_etablissement, "assigningAuthorityName": assigning_authority}
    }
    if date_ref is not None:
        demand["dateRef"] = paris_naive(date_ref)
    if activity_fields:
        demand["typeActivity"] = _coded(activity_fields, ACTIVITY_FIELD_SCHEME)
    if supported_patients:
        demand["supportedPatient"] = _coded(supported_patients, SUPPORTED_PATIENT_SCHEME)
    if restricted_organisation is not None:
        demand["restrictedOrganisation"] = restricted_organisation
    arguments = _lecture("TR_Lecture-OffresSanteEtablissement", {"etablissementDemandeLecture": demand})
    return _build(LECTURE_OPERATION, arguments, vihf, now)


def build_lecture_internal_organisation_request(
    organisation_id: str,
    *,
    assigning_authority: str = OI_AUTHORITY,
    vihf: VihfSettings | None = None,
    now: dt.datetime | None = None,
) -> SoapRequest:
    """TR-Lecture-OffresSanteOrganisationInterne: one internal organisation (``<region>/<n>``) and its subtree."""
    params = {"organisationID": {"code": organisation_id, "assigningAuthorityName": assigning_authority}}
    arguments = _lecture("TR_Lecture-OffreSanteOrganisationInterne", params)
    return _build(LECTURE_OPERATION, arguments, vihf, now)
