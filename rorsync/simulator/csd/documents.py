"""Whole SOAP 1.2 answers: Lecture results, the Notif list and the two error-444 forms (csd-mev24 §4–§5).

The error forms copy the ANS mock answers (``Lecture_Erreur_444.xml``, ``Notif_Erreur_444.xml``):
an in-band ``careServicesResponse/error`` for the Lecture transactions and a SOAP Fault whose
``Code/Value`` is the bare ``444`` for TR-Notif, both served with HTTP 500.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from lxml import etree

from rorsync.simulator.csd.establishment import DIRECTORY_NAMES, Directories
from rorsync.simulator.csd.nodes import CSD_NS, ROR_NS, SOAP_NS, Nodes, add
from rorsync.sources.csd.responses import NOTIF_RESPONSE

NOT_PROVIDED_CODE: Final = "444"
NOT_PROVIDED_MESSAGE: Final = "Non prévu sur la plateforme"
XML_LANG: Final = "{http://www.w3.org/XML/1998/namespace}lang"
SENDER: Final = "env:Sender"


def _envelope(payload: etree._Element) -> bytes:
    envelope = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"env": SOAP_NS, "csd": CSD_NS, "ror": ROR_NS})
    etree.SubElement(envelope, f"{{{SOAP_NS}}}Header")
    etree.SubElement(envelope, f"{{{SOAP_NS}}}Body").append(payload)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _csd(name: str) -> str:
    return f"{{{CSD_NS}}}{name}"


def query_result(parent: etree._Element, directories: Directories | None) -> None:
    """The five directories, mandatory and in this order even when empty."""
    lists = directories.lists() if directories is not None else ([],) * len(DIRECTORY_NAMES)
    for name, elements in zip(DIRECTORY_NAMES, lists, strict=True):
        directory = add(parent, name)
        for element in elements:
            directory.append(element)


def lecture_payload(directories: Directories | None, *, facility_number: bool) -> etree._Element:
    """``careServicesResponse/result``; ``None`` directories give the empty answer (nothing changed)."""
    response = etree.Element(_csd("careServicesResponse"), nsmap={"csd": CSD_NS})
    result = add(response, "result")
    if facility_number:
        add(result, "facilityNumber", str(directories.unit_count if directories is not None else 0))
    query_result(add(result, "queryResult"), directories)
    return response


def lecture_response(directories: Directories | None, *, facility_number: bool = True) -> bytes:
    return _envelope(lecture_payload(directories, facility_number=facility_number))


@dataclass(frozen=True, slots=True)
class NotifEntry:
    """One changed EG: its idNatStruct and the champs d'activité of its offers."""

    id_nat_struct: str
    activity_fields: Sequence[str]


def notif_response(nodes: Nodes, entries: Sequence[NotifEntry], authority: str) -> bytes:
    response = etree.Element(f"{{{ROR_NS}}}{NOTIF_RESPONSE}", nsmap={"ror": ROR_NS, "csd": CSD_NS})
    for entry in entries:
        element = add(response, "etablissementReponseNotif")
        nodes.other_id(element, entry.id_nat_struct, authority, name="id_etablissement")
        for code in entry.activity_fields:
            nodes.coded(element, "typeActivity", "TRE_R227", code)
    add(response, "result", str(len(entries)))
    return _envelope(response)


def lecture_error() -> bytes:
    """The in-band error of the Lecture transactions (unknown establishment / OI, unsupported request)."""
    response = etree.Element(_csd("careServicesResponse"), nsmap={"csd": CSD_NS})
    add(response, "error", code=NOT_PROVIDED_CODE, message=NOT_PROVIDED_MESSAGE)
    return _envelope(response)


def fault(code: str = NOT_PROVIDED_CODE, reason: str = NOT_PROVIDED_MESSAGE, *, lang: str = "fr") -> bytes:
    """A SOAP 1.2 Fault: the Notif error 444 by default, ``env:Sender`` for requests the server cannot read."""
    element = etree.Element(f"{{{SOAP_NS}}}Fault", nsmap={"env": SOAP_NS})
    etree.SubElement(etree.SubElement(element, f"{{{SOAP_NS}}}Code"), f"{{{SOAP_NS}}}Value").text = code
    text = etree.SubElement(etree.SubElement(element, f"{{{SOAP_NS}}}Reason"), f"{{{SOAP_NS}}}Text")
    text.set(XML_LANG, lang)
    text.text = reason
    return _envelope(element)


def sender_fault(reason: str) -> bytes:
    return fault(SENDER, reason, lang="en")
