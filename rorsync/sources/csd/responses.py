"""SOAP answers: the two error forms, and the TR-Notif answer.

A ROR says "no" in two ways, whatever the HTTP status (the mock uses 500, 200 is possible):

* a SOAP 1.2 Fault (TR-Notif): ``Fault/Code/Value`` = ``444`` (not even a valid QName) and
  ``Reason/Text`` = "Non prévu sur la plateforme" → ``CsdServiceError(form="fault")``;
* ``careServicesResponse/error`` with ``@code`` and ``@message`` (TR-Lecture) →
  ``CsdServiceError(form="in-band")``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from lxml import etree

from rorsync.sources.csd.elements import boolean, child, children, code_of, local_name, text
from rorsync.sources.csd.errors import CsdResponseError, CsdServiceError
from rorsync.sources.csd.xmlsafe import DEFAULT_LIMITS, XmlLimits, parse_bytes

NOTIF_RESPONSE: Final = "TR-Notif-ListeEtablissementMajApresDate_Reponse"


def fault_error(fault: etree._Element) -> CsdServiceError:
    """A SOAP 1.2 ``Fault`` element as a typed error (1.1-style ``faultcode``/``faultstring`` too)."""
    code_element = child(fault, "Code")
    code = text(child(code_element, "Value")) if code_element is not None else text(child(fault, "faultcode"))
    reason = child(fault, "Reason")
    message = text(child(reason, "Text")) if reason is not None else text(child(fault, "faultstring"))
    return CsdServiceError(code=code or "unknown", message=message or "", form="fault")


def in_band_error(error: etree._Element) -> CsdServiceError:
    """A ``careServicesResponse/error`` element as a typed error."""
    code = (error.get("code") or "").strip()
    message = (error.get("message") or "").strip() or text(error) or ""
    return CsdServiceError(code=code or "unknown", message=message, form="in-band")


def is_in_band_error(element: etree._Element) -> bool:
    parent = element.getparent()
    return parent is not None and local_name(parent.tag) == "careServicesResponse"


def soap_payload(root: etree._Element, what: str, expected: str) -> etree._Element:
    """The element inside ``Envelope/Body`` (or ``root`` itself when not enveloped); raises typed errors."""
    payload = root
    if local_name(root.tag) == "Envelope":
        body = child(root, "Body")
        inner = next(body.iterchildren(etree.Element), None) if body is not None else None
        if inner is None:
            raise CsdResponseError(f"{what}: empty SOAP Body, expected {expected}")
        payload = inner
    name = local_name(payload.tag)
    if name == "Fault":
        raise fault_error(payload)
    if name == "careServicesResponse":
        error = child(payload, "error")
        if error is not None:
            raise in_band_error(error)
    return payload


def raise_for_service_error(data: bytes, *, what: str = "CSD response", limits: XmlLimits = DEFAULT_LIMITS) -> None:
    """Raise ``CsdServiceError`` if ``data`` is a SOAP Fault or an in-band error; meant for HTTP errors."""
    soap_payload(parse_bytes(data, what=what, expected="a SOAP envelope", limits=limits), what, "a SOAP envelope")


@dataclass(frozen=True, slots=True)
class NotifEstablishment:
    """One EG whose offer changed: its idNatStruct is the key to pass to TR-Lecture."""

    id_nat_struct: str
    assigning_authority: str | None
    activity_fields: tuple[str, ...]  # TRE_R227
    supported_patients: tuple[str, ...]  # TRE_R239, sent by the mocks although the XSD has no room for it
    restricted: bool | None


@dataclass(frozen=True, slots=True)
class NotifResult:
    establishments: list[NotifEstablishment]
    result_count: int | None  # csd:result, the server's own count


def _establishment(element: etree._Element, what: str) -> NotifEstablishment:
    identifier = child(element, "id_etablissement")
    code = (identifier.get("code") or "").strip() if identifier is not None else ""
    if identifier is None or not code:
        raise CsdResponseError(f"{what}: etablissementReponseNotif without id_etablissement/@code")
    activity: list[str] = []
    patients: list[str] = []
    restricted = None
    for name, part in children(element):
        if name == "typeActivity" and (found := code_of(part)):
            activity.append(found)
        elif name == "supportedPatient" and (found := code_of(part)):
            patients.append(found)
        elif name == "restrictedOrganisation":
            restricted = boolean(part)
    authority = (identifier.get("assigningAuthorityName") or "").strip() or None
    return NotifEstablishment(code, authority, tuple(activity), tuple(patients), restricted)


def parse_notif(data: bytes, *, limits: XmlLimits = DEFAULT_LIMITS) -> NotifResult:
    """TR-Notif answer → the establishments to read; raises ``CsdServiceError`` for both error forms."""
    what = "TR-Notif response"
    root = parse_bytes(data, what=what, expected=NOTIF_RESPONSE, limits=limits)
    payload = soap_payload(root, what, NOTIF_RESPONSE)
    if local_name(payload.tag) != NOTIF_RESPONSE:
        raise CsdResponseError(f"{what}: expected {NOTIF_RESPONSE}, got {local_name(payload.tag)}")
    establishments = []
    count = None
    for name, part in children(payload):
        if name == "etablissementReponseNotif":
            establishments.append(_establishment(part, what))
        elif name == "result":
            value = text(part)
            if value is not None and value.isdigit():
                count = int(value)
    return NotifResult(establishments, count)
