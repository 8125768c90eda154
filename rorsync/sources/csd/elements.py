"""Lenient readers for the small CSD building blocks (names, codes, booleans, records, contacts).

Everything dispatches on *local* element names: real files mix the csd namespace, no namespace
(``<creationDate>`` in the mock) and placeholder ``@type``/``@urn`` on extensions, none of which may
change the meaning. These helpers run for every element of multi-megabyte documents, so they stay
plain loops over children, without XPath.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, TypeVar

from lxml import etree

from rorsync import codes
from rorsync.model import CodeRow, ContactRow
from rorsync.sources.csd.times import parse_datetime

CSD_NS: Final = "urn:ihe:iti:csd:2013"
NULL_CODES: Final = frozenset({"", "null"})

_local_names: dict[Any, str] = {}  # keyed by lxml tags (str for elements)
_LOCAL_NAME_CACHE_LIMIT: Final = 4096


def local_name(tag: str | bytes | bytearray | etree.QName) -> str:
    """``{ns}name`` → ``name`` (cached: a document uses a few hundred distinct tags)."""
    key = tag if isinstance(tag, str) else str(tag)  # lxml gives elements str tags
    name = _local_names.get(key)
    if name is None:
        name = key.rpartition("}")[2]
        if len(_local_names) < _LOCAL_NAME_CACHE_LIMIT:
            _local_names[key] = name
    return name


def children(element: etree._Element) -> list[tuple[str, etree._Element]]:
    """(local name, child) for each child node.

    A list, not a generator, over the element itself rather than ``iterchildren(etree.Element)``:
    this runs for most elements of the document, and both choices measured faster. A comment or a
    processing instruction comes with a name no reader dispatches on (its tag is a function).
    """
    names = _local_names
    return [(names.get(found.tag) or local_name(found.tag), found) for found in element]


def child(element: etree._Element, name: str) -> etree._Element | None:
    """The first child element of local name ``name``, in any namespace (or none)."""
    return next(element.iterchildren(f"{{*}}{name}"), None)


def text(element: etree._Element | None) -> str | None:
    """Stripped text content, ``None`` when absent or blank."""
    if element is None or element.text is None:
        return None
    value = element.text.strip()
    return value or None


def code_of(element: etree._Element) -> str | None:
    """A codedtype's ``@code``, stripped; ``None`` for empty and the mock's ``"null"`` placeholder."""
    code = element.get("code")
    if code is None:
        return None
    code = code.strip()
    return None if code in NULL_CODES else code


@lru_cache(maxsize=1024)
def _table_for_scheme(scheme: str) -> str | None:
    return codes.table_for_oid(scheme)


def table_of(element: etree._Element) -> str | None:
    scheme = element.get("codingScheme")
    return _table_for_scheme(scheme) if scheme else None


def code_row(kind: str, element: etree._Element) -> CodeRow | None:
    code = code_of(element)
    if code is None:
        return None
    row: CodeRow = {"kind": kind, "table_id": table_of(element), "code": code}  # a literal: faster than a call
    return row


def add_code(rows: list[CodeRow], kind: str, element: etree._Element) -> None:
    """Append the code of ``element`` as a ``kind`` row, unless it has none."""
    found = code_row(kind, element)
    if found is not None:
        rows.append(found)


def boolean(element: etree._Element | None) -> bool | None:
    value = text(element)
    if value is None:
        return None
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    return None


_Number = TypeVar("_Number", int, float)


def _number(value: str | None, kind: type[_Number]) -> _Number | None:
    if value is None:
        return None
    try:
        return kind(value.strip())
    except ValueError:
        return None


def integer(value: str | None) -> int | None:
    return _number(value, int)


def decimal(value: str | None) -> float | None:
    return _number(value, float)


def updated_of(element: etree._Element) -> tuple[dt.datetime | None, str | None]:
    """The direct ``record/@updated`` of an entity: (parsed value, raw text when it did not parse)."""
    record = element[-1] if len(element) else None  # ``record`` ends every CSD object
    if record is None or not isinstance(record.tag, str) or local_name(record.tag) != "record":
        record = child(element, "record")
    if record is None:
        return None, None
    raw = record.get("updated")
    if raw is None:
        return None, None
    parsed = parse_datetime(raw)
    return (parsed, None) if parsed is not None else (None, raw)


def canonical(element: etree._Element) -> bytes:
    """The element's XML in exclusive C14N: the same object gives the same bytes in any document.

    Plain serialisation would copy every namespace declared by the enclosing document (a SOAP
    envelope declares more than an extraction part), so one unchanged object would look changed
    each time it came through the other transaction. Exclusive C14N keeps only what it uses.
    """
    return etree.tostring(element, method="c14n", exclusive=True)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a draft comes from: the element's ``@entityID``, ``record/@updated`` and XML."""

    entity_id: str
    updated: dt.datetime | None
    unparsed_updated: str | None  # the raw value when it is not a dateTime (a warning, not an error)
    payload: bytes  # exclusive C14N: the same object gives the same bytes in any document

    @classmethod
    def of(cls, element: etree._Element) -> Origin:
        updated, unparsed = updated_of(element)
        return cls(element.get("entityID", ""), updated, unparsed, canonical(element))


def _level(element: etree._Element | None) -> int | None:
    return integer(code_of(element)) if element is not None else None


def telecom(contact_point: etree._Element) -> tuple[str | None, str | None, int | None]:
    """(channel code TRE_R200, value, telecom confidentiality level) of a ``contactPoint``."""
    channel = value = level = None
    for name, part in children(contact_point):
        if name == "codedType":
            channel = code_of(part)
        elif name == "equipment":
            value = text(part)
        elif name == "extension":
            confidentiality = child(part, "confidentialityLevel")
            if confidentiality is not None:
                level = _level(confidentiality)
    return channel, value, level


@dataclass(frozen=True, slots=True)
class _ContactHead:
    """The contact part shared by the rows of its telecoms (all ``None`` for a bare telecom)."""

    ord: int | None = None
    name: str | None = None
    purpose: str | None = None
    function: str | None = None
    description: str | None = None
    level: int | None = None

    def rows(self, contact_points: list[etree._Element]) -> list[ContactRow]:
        """One row per telecom (or one row without telecom), see ``ContactRow``."""
        telecoms = [telecom(contact_point) for contact_point in contact_points] or [(None, None, None)]
        return [
            ContactRow(
                contact_ord=self.ord,
                contact_name=self.name,
                purpose_code=self.purpose,
                function_code=self.function,
                description=self.description,
                contact_confidentiality=self.level,
                channel_code=channel,
                value=value,
                usage_code=None,
                telecom_confidentiality=telecom_level,
            )
            for channel, value, telecom_level in telecoms
        ]


def _ror_contact_rows(contact: etree._Element, ord_: int) -> list[ContactRow]:
    """A ROR ``extension/contact`` (name, function, nature, description, levels, contactPoint*)."""
    name = function = purpose = description = None
    level = None
    contact_points = []
    for part_name, part in children(contact):
        if part_name == "name":
            name = text(part)
        elif part_name == "function":
            function = code_of(part)
        elif part_name == "nature":
            purpose = code_of(part)
        elif part_name == "description":
            description = text(part)
        elif part_name == "confidentialityLevel":
            level = _level(part)
        elif part_name == "contactPoint":
            contact_points.append(part)
    return _ContactHead(ord_, name, purpose, function, description, level).rows(contact_points)


def _native_contact_rows(contact: etree._Element, ord_: int) -> list[ContactRow]:
    """A native CSD ``contact/person`` ("ne pas utiliser", yet the mocks fill it): no level given."""
    person = child(contact, "person")
    if person is None:
        return []
    name = description = None
    contact_points = []
    for part_name, part in children(person):
        if part_name == "name" and name is None:
            name = text(child(part, "commonName"))
        elif part_name == "contactPoint":
            contact_points.append(part)
        elif part_name == "extension":
            description = text(child(part, "description"))
    return _ContactHead(ord_, name, description=description).rows(contact_points)


class Contacts:
    """The contact rows of one owner, numbering contacts in document order."""

    __slots__ = ("_next_ord", "rows")

    def __init__(self) -> None:
        self.rows: list[ContactRow] = []
        self._next_ord = 0

    def _add(self, rows: list[ContactRow]) -> None:
        if rows:
            self.rows.extend(rows)
            self._next_ord += 1

    def add_ror(self, contact: etree._Element) -> None:
        self._add(_ror_contact_rows(contact, self._next_ord))

    def add_native(self, contact: etree._Element) -> None:
        self._add(_native_contact_rows(contact, self._next_ord))

    def add_telecom(self, contact_point: etree._Element) -> None:
        """A telecom outside any contact (native ``contactPoint``, ``mailBoxMSS``)."""
        self.rows.extend(_ContactHead().rows([contact_point]))


def address_parts(address: etree._Element) -> tuple[str | None, str | None, str | None]:
    """(address line, postal code, city) from the first ``addressLine``'s attributes (or text)."""
    line = child(address, "addressLine")
    if line is None:
        return None, None, None
    street = " ".join(
        value.strip()
        for value in (
            line.get("buildingNumber"),
            line.get("streetType"),
            line.get("streetName"),
        )
        if value and value.strip()
    )
    extra = [
        value.strip()
        for value in (line.get("lineOne"), line.get("lineTwo"), line.get("lineThree"), line.text)
        if value and value.strip()
    ]
    address_line = ", ".join([street, *extra] if street else extra) or None
    postal_code = (line.get("postCode") or "").strip() or None
    city = (line.get("cityName") or "").strip() or None
    return address_line, postal_code, city
