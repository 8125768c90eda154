"""Incoming SOAP 1.2 requests → typed requests, through the hardened parser of ``rorsync.sources.csd.xmlsafe``.

The body element decides the transaction (csd-mev24 §3, §4): ``ror:TR-Notif-…_Demande`` is TR-Notif,
``csd:careServicesRequest/function`` holds one of the two TR-Lecture branches. A known request must
validate against the v2.4 XSD (a client bug shows as a SOAP ``Sender`` fault naming the problem);
anything else is "not provided" (error 444). ``dateRef`` without offset is Europe/Paris wall time, as
PLATINES sends it; in the autumn hour that happens twice it is read as the first (earlier) one, so a
client never misses a change. A ``Header`` (e.g. the VIHF ``wsse:Security``) is accepted and ignored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final, Literal

from lxml import etree

from rorsync.simulator.csd.establishment import Selection
from rorsync.simulator.csd.nodes import CSD_NS, ROR_NS, SOAP_NS
from rorsync.simulator.world.instants import PARIS, to_micros
from rorsync.sources.csd.elements import boolean, child, children, code_of, local_name, text
from rorsync.sources.csd.errors import CsdResponseError
from rorsync.sources.csd.wsdl import load_xml_schema
from rorsync.sources.csd.xmlsafe import XmlLimits, parse_bytes

REQUEST_MAX_BYTES: Final = 1 << 20
NOTIF_REQUEST: Final = f"{{{ROR_NS}}}TR-Notif-ListeEtablissementsMajApresDate_Demande"
LECTURE_REQUEST: Final = f"{{{CSD_NS}}}careServicesRequest"
ESTABLISHMENT_BRANCH: Final = "TR_Lecture-OffresSanteEtablissement"
ORGANISATION_BRANCH: Final = "TR_Lecture-OffreSanteOrganisationInterne"

Form = Literal["notif", "lecture"]


class UnreadableRequest(ValueError):
    """Not a SOAP 1.2 request the server can read: answered with a ``Sender`` fault, HTTP 400."""


class NotProvided(ValueError):
    """A request outside the two transactions (or an unknown establishment): error 444 in ``form``."""

    def __init__(self, form: Form, reason: str) -> None:
        super().__init__(reason)
        self.form: Form = form


@dataclass(frozen=True, slots=True)
class NotifRequest:
    since: int  # dateRef, µs since the epoch
    activity_fields: frozenset[str]
    supported_patients: frozenset[str]


@dataclass(frozen=True, slots=True)
class EstablishmentRequest:
    id_nat_struct: str
    since: int | None  # dateRef, µs
    selection: Selection


@dataclass(frozen=True, slots=True)
class OrganisationRequest:
    identifier: str  # <region>/<n>


CsdRequest = NotifRequest | EstablishmentRequest | OrganisationRequest


def date_ref_micros(value: str) -> int:
    """``dateRef`` → µs; naive values are Paris wall time (first occurrence when ambiguous)."""
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError as error:
        raise UnreadableRequest(f"dateRef {value!r} is not an xs:dateTime") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=PARIS, fold=0)
    return to_micros(moment)


def _payload(data: bytes) -> etree._Element:
    try:
        root = parse_bytes(
            data, what="CSD request", expected="a SOAP 1.2 envelope", limits=XmlLimits(max_bytes=REQUEST_MAX_BYTES)
        )
    except CsdResponseError as error:
        raise UnreadableRequest(str(error)) from error
    if root.tag != f"{{{SOAP_NS}}}Envelope":
        raise UnreadableRequest(f"expected a SOAP 1.2 Envelope ({SOAP_NS}), got {root.tag!s}")
    body = root.find(f"{{{SOAP_NS}}}Body")
    payload = next(body.iterchildren(etree.Element), None) if body is not None else None
    if payload is None:
        raise UnreadableRequest("the SOAP Body holds no request element")
    return payload


def _validate(payload: etree._Element) -> None:
    schema = load_xml_schema()
    if not schema.validate(payload):
        error = schema.error_log.last_error
        detail = error.message if error is not None else "invalid"
        raise UnreadableRequest(f"{local_name(payload.tag)} does not follow the v2.4 XSD: {detail}")


def _codes(element: etree._Element, name: str) -> frozenset[str]:
    return frozenset(code for part_name, part in children(element) if part_name == name and (code := code_of(part)))


def _required(parent: etree._Element, name: str) -> etree._Element:
    """A child the XSD makes mandatory (so validation already guaranteed it)."""
    found = child(parent, name)
    if found is None:
        raise UnreadableRequest(f"{local_name(parent.tag)} has no {name}")
    return found


def parse_request(data: bytes) -> CsdRequest:
    """Read one request; raises :class:`UnreadableRequest` or :class:`NotProvided`."""
    payload = _payload(data)
    if payload.tag == NOTIF_REQUEST:
        _validate(payload)
        params = _required(payload, "params")
        return NotifRequest(
            date_ref_micros(text(child(params, "dateRef")) or ""),
            _codes(params, "typeActivity"),
            _codes(params, "supportedPatient"),
        )
    if payload.tag != LECTURE_REQUEST:
        raise NotProvided("notif", f"unsupported request element {payload.tag!s}")
    function = child(payload, "function")
    if function is None:
        raise NotProvided("lecture", "careServicesRequest without function (expression is not provided)")
    _validate(payload)
    branch = next(function.iterchildren(etree.Element))
    if local_name(branch.tag) == ORGANISATION_BRANCH:
        identifier = _required(branch, "organisationID")
        return OrganisationRequest((identifier.get("code") or "").strip())
    demand = _required(branch, "etablissementDemandeLecture")
    identifier = _required(demand, "id_etablissement")
    date_ref = text(child(demand, "dateRef"))
    selection = Selection(
        activity_fields=_codes(demand, "typeActivity"),
        supported_patients=_codes(demand, "supportedPatient"),
        restricted=bool(boolean(child(demand, "restrictedOrganisation"))),
    )
    return EstablishmentRequest(
        (identifier.get("code") or "").strip(),
        date_ref_micros(date_ref) if date_ref is not None else None,
        selection,
    )
