"""The optional VIHF header: ``wsse:Security`` holding an unsigned SAML 2.0 assertion (csd-mev24 §14).

Shaped like the assertion of the ANS PLATINES generator (``VihfBuilder.java``): Issuer = the X.509
subject name of the TLS client certificate, Subject/NameID = the structure's identifier, and the
attributes ``VIHF_Version``, ``Ressource_URN``, the XACML role, the XSPA subject id,
``Profil_Utilisateur`` (a CU code) and ``VIHF_Profil``, the coded ones as HL7 v3 ``CE`` values (the
element names of the two profile values are inferred: PLATINES only shows their code systems).
Whether a given ROR requires the header is unknown: the client sends it only when configured.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Final

from lxml import etree

WSSE_NS: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
SAML_NS: Final = "urn:oasis:names:tc:SAML:2.0:assertion"
HL7_NS: Final = "urn:hl7-org:v3"
XSI_NS: Final = "http://www.w3.org/2001/XMLSchema-instance"

PROFILE_CU_CODES: Final[dict[int, str]] = {0: "CU23", 1: "CU22", 2: "CU20", 3: "CU19"}
"""CSD access profile → ``Profil_Utilisateur`` code, as PLATINES ``Profil.java`` maps them."""

ROLE_CODE_SYSTEM: Final = "1.2.250.1.213.1.1.4.6"
USER_PROFILE_CODE_SYSTEM: Final = "1.2.250.1.213.1.6.1.66"
VIHF_PROFILE_CODE_SYSTEM: Final = "1.2.250.1.213.1.1.4.312"


@dataclass(frozen=True, slots=True)
class VihfSettings:
    """What the header says about the caller; nothing secret (the assertion is not signed)."""

    subject_name_id: str  # e.g. "18751275100020/26"
    issuer: str  # X509SubjectName of the TLS client certificate
    user_profile_code: str  # Profil_Utilisateur, e.g. PROFILE_CU_CODES[1]
    subject_id: str | None = None  # XSPA subject-id (a display name); defaults to subject_name_id
    role_code: str = "AUTOMATE"
    vihf_profile: str = "profil_referentiel"
    resource_urn: str = "urn:ROR"

    @classmethod
    def for_profile(cls, profile: int, *, subject_name_id: str, issuer: str) -> VihfSettings:
        try:
            code = PROFILE_CU_CODES[profile]
        except KeyError:
            raise ValueError(f"CSD access profile must be one of {sorted(PROFILE_CU_CODES)}, got {profile}") from None
        return cls(subject_name_id=subject_name_id, issuer=issuer, user_profile_code=code)


def _saml(name: str) -> str:
    return f"{{{SAML_NS}}}{name}"


def _attribute(statement: etree._Element, name: str, value: str | etree._Element) -> None:
    attribute = etree.SubElement(statement, _saml("Attribute"), Name=name)
    holder = etree.SubElement(attribute, _saml("AttributeValue"))
    if isinstance(value, str):
        holder.text = value
    else:
        holder.append(value)


def _hl7(tag: str, xsi_type: str, code: str, code_system: str) -> etree._Element:
    element = etree.Element(f"{{{HL7_NS}}}{tag}", nsmap={None: HL7_NS, "xsi": XSI_NS})
    element.set(f"{{{XSI_NS}}}type", xsi_type)
    element.set("code", code)
    element.set("codeSystem", code_system)
    return element


def build_vihf_header(settings: VihfSettings, *, now: dt.datetime, assertion_id: str | None = None) -> etree._Element:
    """The ``wsse:Security`` element to put in the SOAP header; ``now`` must be aware."""
    instant = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    security = etree.Element(f"{{{WSSE_NS}}}Security", nsmap={"wsse": WSSE_NS})
    assertion = etree.SubElement(
        security,
        _saml("Assertion"),
        nsmap={"saml2": SAML_NS},
        ID=assertion_id or f"_{uuid.uuid4().hex}",
        IssueInstant=instant,
        Version="2.0",
    )
    issuer = etree.SubElement(
        assertion, _saml("Issuer"), Format="urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName"
    )
    issuer.text = settings.issuer
    subject = etree.SubElement(assertion, _saml("Subject"))
    name_id = etree.SubElement(subject, _saml("NameID"), Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified")
    name_id.text = settings.subject_name_id
    authn = etree.SubElement(assertion, _saml("AuthnStatement"), AuthnInstant=instant)
    context = etree.SubElement(authn, _saml("AuthnContext"))
    etree.SubElement(context, _saml("AuthnContextClassRef")).text = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
    statement = etree.SubElement(assertion, _saml("AttributeStatement"))
    _attribute(statement, "VIHF_Version", "2.0")
    _attribute(statement, "Ressource_URN", settings.resource_urn)
    _attribute(
        statement,
        "urn:oasis:names:tc:xacml:2.0:subject:role",
        _hl7("Role", "CE", settings.role_code, ROLE_CODE_SYSTEM),
    )
    _attribute(
        statement, "urn:oasis:names:tc:xspa:1.0:subject:subject-id", settings.subject_id or settings.subject_name_id
    )
    _attribute(
        statement,
        "Profil_Utilisateur",
        _hl7("Profil", "CE", settings.user_profile_code, USER_PROFILE_CODE_SYSTEM),
    )
    _attribute(statement, "VIHF_Profil", _hl7("Profil", "CE", settings.vihf_profile, VIHF_PROFILE_CODE_SYSTEM))
    return security
