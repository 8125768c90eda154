"""CSD documents → ``Record``s: TR-Lecture answers and extraction parts (TR-Extraction, public XML).

Pure and streaming: ``lxml.etree.iterparse`` reports only the end of the top-level objects
(``organization``, ``service``, ``facility``, ``provider``, ``device``) and of the few landmarks
(``facilityNumber``, ``Fault``, ``error``); each object is read, handed to the :class:`CsdResolver`
and then cleared, together with the siblings before it, so memory does not grow with the document
(only the resolver's small entityID maps do). Accepted roots: ``csd:CSD``, ``careServicesResponse``
(``result/queryResult``), the same inside a SOAP 1.2 envelope, and ``getModificationsResponse``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from lxml import etree

from rorsync.model import Record, RecordError
from rorsync.sources.csd.elements import integer, local_name, text
from rorsync.sources.csd.errors import CsdResponseError
from rorsync.sources.csd.facilities import read_device, read_facility, read_service
from rorsync.sources.csd.organizations import read_organization
from rorsync.sources.csd.providers import read_provider
from rorsync.sources.csd.resolver import CsdResolver, Output, ParseWarning
from rorsync.sources.csd.responses import fault_error, in_band_error, is_in_band_error
from rorsync.sources.csd.xmlsafe import DEFAULT_LIMITS, XmlLimits, iterparse_safe

_DIRECTORY_OF: Final = {
    "organization": "organizationDirectory",
    "service": "serviceDirectory",
    "facility": "facilityDirectory",
    "provider": "providerDirectory",
    "device": "deviceDirectory",
}
_TAGS: Final = (*(f"{{*}}{name}" for name in _DIRECTORY_OF), "{*}facilityNumber", "{*}result", "{*}Fault", "{*}error")
_ROOTS: Final = frozenset({"CSD", "careServicesResponse", "Envelope", "getModificationsResponse"})
_EXPECTED: Final = "a CSD document (csd:CSD, or careServicesResponse/result/queryResult)"


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _forget(element: etree._Element, parent: etree._Element) -> None:
    """Free a processed object and everything before it in its directory (constant memory)."""
    element.clear(keep_tail=False)
    while element.getprevious() is not None:
        del parent[0]


def _read(resolver: CsdResolver, name: str, element: etree._Element) -> list[Output]:
    if name == "facility":
        return resolver.add_facility(read_facility(element))
    if name == "organization":
        return resolver.add_organization(read_organization(element))
    if name == "service":
        resolver.add_service(element.get("entityID", ""), read_service(element))
        return []
    if name == "device":
        return resolver.add_device(element.get("entityID", ""), read_device(element))
    return resolver.add_provider(read_provider(element))


def _stream(
    source: _Readable, resolver: CsdResolver, *, what: str, limits: XmlLimits, landmarks: set[str]
) -> Iterator[Output]:
    """Records of one document, as soon as they are complete; ``landmarks`` collects what was seen."""
    elements = iterparse_safe(source, what=what, expected=_EXPECTED, roots=_ROOTS, tags=_TAGS, limits=limits)
    for element in elements:
        name = local_name(element.tag)
        parent = element.getparent()
        parent_name = local_name(parent.tag) if parent is not None else ""
        directory = _DIRECTORY_OF.get(name)
        if directory is not None:
            if parent is None or parent_name != directory:
                continue  # a reference inside another object (facility/organizations/organization...)
            yield from _read(resolver, name, element)
            _forget(element, parent)
        elif name == "facilityNumber":
            resolver.facility_number = integer(text(element))
        elif name == "result" and parent_name == "careServicesResponse":
            landmarks.add("result")
        elif name == "Fault":
            raise fault_error(element)
        elif name == "error" and is_in_band_error(element):
            raise in_band_error(element)


def register_organizations(
    source: _Readable, resolver: CsdResolver, *, what: str, limits: XmlLimits
) -> list[tuple[str, str | None]]:
    """Register the organizations (EJ, EG) of one extraction part with ``resolver``; returns their
    (entityID, idNatStruct) pairs.

    Only ``organizationDirectory`` is read (it comes first), and the records are not kept: this
    indexes what other parts may reference, before the parts are read in parallel.
    """
    defined = []
    tags = ("{*}organization", "{*}organizationDirectory")
    for element in iterparse_safe(source, what=what, expected=_EXPECTED, roots=_ROOTS, tags=tags, limits=limits):
        parent = element.getparent()
        if local_name(element.tag) == "organizationDirectory":
            break
        if parent is not None and local_name(parent.tag) == "organizationDirectory":
            draft = read_organization(element)
            resolver.add_organization(draft)
            defined.append((draft.origin.entity_id, draft.id_nat_struct))
            _forget(element, parent)
    return defined


@dataclass(frozen=True, slots=True)
class LectureResult:
    """One TR-Lecture answer: everything it held, plus what could not be read and what was odd."""

    records: list[Record]
    errors: list[RecordError]
    facility_number: int | None  # the server's count of UE facilities (None in Lecture OI answers)
    warnings: list[ParseWarning]


def parse_lecture(data: bytes, *, limits: XmlLimits = DEFAULT_LIMITS) -> LectureResult:
    """A TR-Lecture (establishment or internal organisation) answer → records.

    Raises ``CsdServiceError`` for a SOAP Fault or an in-band ``error``, ``CsdResponseError`` for a
    body that is not such an answer. Never returns half a document: an error aborts the whole answer.
    """
    what = "TR-Lecture response"
    resolver = CsdResolver()
    landmarks: set[str] = set()
    outputs = [*_stream(io.BytesIO(data), resolver, what=what, limits=limits, landmarks=landmarks)]
    if "result" not in landmarks:
        raise CsdResponseError(f"{what}: expected careServicesResponse/result, found none")
    outputs += resolver.finish()
    records = [output for output in outputs if isinstance(output, Record)]
    errors = [output for output in outputs if isinstance(output, RecordError)]
    return LectureResult(records, errors, resolver.facility_number, resolver.warnings)


def iter_extraction_records(
    source: str | os.PathLike[str] | _Readable,
    *,
    resolver: CsdResolver | None = None,
    what: str | None = None,
    limits: XmlLimits = DEFAULT_LIMITS,
) -> Iterator[Record | RecordError]:
    """Stream the records of one extraction part (a path or a binary stream), in constant memory.

    With a ``resolver`` of its own making, the part is one document: references are settled at its
    end. Pass a shared ``resolver`` to read several parts of one extraction as one document; the
    caller then ends with ``yield from resolver.finish()``. Warnings accumulate on the resolver.
    Errors of the input itself (unsafe, malformed, truncated, oversized) raise ``CsdResponseError``
    at the point where they are found, possibly after records were yielded: the caller treats the
    whole part as failed.
    """
    own = resolver is None
    active = resolver or CsdResolver()
    landmarks: set[str] = set()
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        with path.open("rb") as stream:
            yield from _stream(stream, active, what=what or str(path), limits=limits, landmarks=landmarks)
    else:
        yield from _stream(source, active, what=what or "CSD extraction part", limits=limits, landmarks=landmarks)
    if own:
        yield from active.finish()


def check_document(path: str | os.PathLike[str], *, limits: XmlLimits = DEFAULT_LIMITS) -> None:
    """One pass of well-formedness and safety checks over a CSD document, mapping nothing.

    For an input that comes with no digest (a bare public XML file): a truncated or malformed file is
    refused before a single record reaches the mirror. About as fast as a plain ``iterparse``.
    """
    what = str(path)
    with Path(path).open("rb") as stream:
        for element in iterparse_safe(
            stream, what=what, expected=_EXPECTED, roots=_ROOTS, tags=_TAGS[: len(_DIRECTORY_OF)], limits=limits
        ):
            parent = element.getparent()
            if parent is not None and local_name(parent.tag) == _DIRECTORY_OF[local_name(element.tag)]:
                _forget(element, parent)
