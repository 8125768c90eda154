"""The small CSD building blocks every rendered object uses: namespaced elements, coded values, ``record``.

Names and order follow the v2.4 XSD (``IHE_ProfilCSD-ExtensionROR_fr-v2.4.xsd``). Every code's
``codingScheme`` is the OID of its NOS table (``rorsync.codes``), so a client resolves it the way it
resolves real data. Timestamps carry the Paris offset and milliseconds, as real regional data does
(csd-mev24 §9.1); :class:`Quirks` switches on what the ANS mock does instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Final

from lxml import etree

from rorsync import codes
from rorsync.model import ContactRow
from rorsync.simulator.world.instants import PARIS

CSD_NS: Final = "urn:ihe:iti:csd:2013"
ROR_NS: Final = "urn:asip:ror:2015"
SOAP_NS: Final = "http://www.w3.org/2003/05/soap-envelope"
CSD_NSMAP: Final = {"csd": CSD_NS}

ID_NAT_STRUCT_AUTHORITY: Final = "1.2.250.1.71.4.2.2"  # RG_ALIM_014
ESTABLISHMENT_AUTHORITY: Final = codes.table("TRE_G07").oid  # what the mocks put on id_etablissement
OI_AUTHORITY: Final = "1.2.250.1.213.6.1.1.1.1.76"  # OI and UE identifiers in the ANS mock answers
ID_NAT_PS_AUTHORITY: Final = "1.2.250.1.71.4.2.1"
FINESS_AUTHORITY: Final = "1.2.250.1.213.3.2"
SIRENE_AUTHORITY: Final = "1.3.2"
SOURCE_DIRECTORY: Final = "https://ror.simulator.invalid"
EXTENSION_ATTRIBUTES: Final = {"type": "ROR", "urn": ROR_NS}  # required by csd:extension, never read


@dataclass(frozen=True, slots=True)
class Quirks:
    """Deviations of real servers that clients must survive; all off by default (valid, tidy output).

    ``trailing_space_oids``: ``codingScheme`` and ``assigningAuthorityName`` end with a space, as in
    the ANS mock (``"1.2.250.1.213.3.3.8 "``). ``naive_datetimes``: record and capacity datetimes
    without offset (Paris wall time), as in the mock, instead of the offsets of real data.
    """

    trailing_space_oids: bool = False
    naive_datetimes: bool = False

    @classmethod
    def parse(cls, names: Iterable[str]) -> Quirks:
        """From the option names ``trailing-space-oids`` / ``naive-datetimes``; errors name the culprit."""
        known = {"trailing-space-oids": "trailing_space_oids", "naive-datetimes": "naive_datetimes"}
        chosen: dict[str, bool] = {}
        for name in names:
            if name not in known:
                raise ValueError(f"unknown CSD quirk {name!r}; known: {', '.join(known)}")
            chosen[known[name]] = True
        return cls(**chosen)


@cache
def _qualified(name: str) -> str:
    return f"{{{CSD_NS}}}{name}"


def top(name: str, **attributes: str) -> etree._Element:
    """A top-level ``csd:`` element (an object of a directory, a document root)."""
    return etree.Element(_qualified(name), attributes, nsmap=CSD_NSMAP)


def add(parent: etree._Element, name: str, text: str | None = None, **attributes: str) -> etree._Element:
    """Append ``csd:name`` to ``parent``; ``text`` is its content when given."""
    element = etree.SubElement(parent, _qualified(name), attributes)
    if text is not None:
        element.text = text
    return element


def xml_boolean(value: bool) -> str:
    return "true" if value else "false"


@dataclass(frozen=True, slots=True)
class Nodes:
    """Element builders that apply the quirks; one instance per rendering."""

    quirks: Quirks = Quirks()

    def oid(self, value: str) -> str:
        return f"{value} " if self.quirks.trailing_space_oids else value

    def timestamp(self, instant: dt.datetime) -> str:
        """An xs:dateTime in Paris time with milliseconds, with its offset unless the quirk drops it."""
        return _timestamp(instant, naive=self.quirks.naive_datetimes)

    def other_id(self, parent: etree._Element, code: str, authority: str, name: str = "otherID") -> None:
        add(parent, name, code=code, assigningAuthorityName=self.oid(authority))

    def coded(
        self, parent: etree._Element, name: str, table_id: str, code: str | None, *, label: bool = True
    ) -> etree._Element:
        """A codedtype of NOS ``table_id``; ``None`` becomes the empty code real non-UE OIs carry."""
        value = code or ""
        text = _label(table_id, value) if label and value else None
        return add(parent, name, text, code=value, codingScheme=self.oid(_scheme(table_id)))

    def record(self, parent: etree._Element, created: dt.datetime, updated: dt.datetime) -> None:
        add(
            parent,
            "record",
            created=self.timestamp(min(created, updated)),
            updated=self.timestamp(updated),
            status="Ok",
            sourceDirectory=SOURCE_DIRECTORY,
        )

    def extension(self, parent: etree._Element, name: str = "extension") -> etree._Element:
        return add(parent, name, **EXTENSION_ATTRIBUTES)

    def contact_point(
        self,
        parent: etree._Element,
        row: ContactRow,
        stamps: tuple[dt.datetime, dt.datetime],
        name: str = "contactPoint",
    ) -> None:
        """A telecom: channel (TRE_R200), value and its own confidentiality level (RG_EXP_034)."""
        point = add(parent, name)
        self.coded(point, "codedType", "TRE_R200", row["channel_code"], label=False)
        if row["value"] is not None:
            add(point, "equipment", row["value"])
        extension = self.extension(point)
        self.coded(extension, "confidentialityLevel", "TRE_R283", _level(row["telecom_confidentiality"]), label=False)
        self.record(extension, *stamps)

    def contacts(self, parent: etree._Element, rows: list[ContactRow], stamps: tuple[dt.datetime, dt.datetime]) -> None:
        """ROR ``contact`` elements (name, function, nature, description, level, telecoms), in order."""
        by_contact: dict[int, list[ContactRow]] = {}
        for row in rows:
            if row["contact_ord"] is not None:
                by_contact.setdefault(row["contact_ord"], []).append(row)
        for contact_rows in by_contact.values():
            head = contact_rows[0]
            contact = add(parent, "contact")
            if head["contact_name"] is not None:
                add(contact, "name", head["contact_name"])
            if head["function_code"] is not None:
                self.coded(contact, "function", "TRE_R251", head["function_code"])
            if head["purpose_code"] is not None:
                self.coded(contact, "nature", "TRE_R287", head["purpose_code"])
            if head["description"] is not None:
                add(contact, "description", head["description"])
            self.coded(contact, "confidentialityLevel", "TRE_R283", _level(head["contact_confidentiality"]))
            for row in contact_rows:
                if row["channel_code"] is not None or row["value"] is not None:
                    self.contact_point(contact, row, stamps)
            self.record(contact, *stamps)

    def address(
        self,
        parent: etree._Element,
        columns: tuple[str | None, str | None, str | None],
        stamps: tuple[dt.datetime, dt.datetime],
    ) -> None:
        """``address/addressLine``: the street text in ``lineOne`` (FHIR keeps no finer split), postcode, city."""
        line, postal_code, city = columns
        if line is None and postal_code is None and city is None:
            return
        attributes = {"lineOne": line, "postCode": postal_code, "cityName": city}
        address = add(parent, "address")
        add(address, "addressLine", **{key: value for key, value in attributes.items() if value is not None})
        self.record(self.extension(address), *stamps)


@lru_cache(maxsize=65536)
def _timestamp(instant: dt.datetime, *, naive: bool) -> str:
    """Cached: every sub-element of an object repeats the object's two timestamps."""
    local = instant.astimezone(PARIS)
    if naive:
        local = local.replace(tzinfo=None)
    return local.isoformat(timespec="milliseconds")


@cache
def _scheme(table_id: str) -> str:
    return codes.table(table_id).oid


@lru_cache(maxsize=65536)
def _label(table_id: str, code: str) -> str | None:
    return codes.label(table_id, code)


def _level(level: int | None) -> str:
    """TRE_R283 code; an unknown level is served as very restricted (the policy's reading of ``None``)."""
    return str(level) if level in (1, 2, 3) else "3"


def bare_telecoms(rows: list[ContactRow]) -> list[ContactRow]:
    """Telecoms outside any contact (``Organization.telecom``, ``HealthcareService.telecom``...)."""
    return [row for row in rows if row["contact_ord"] is None]
