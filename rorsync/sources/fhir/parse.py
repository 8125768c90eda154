"""FHIR JSON bytes → :class:`~rorsync.model.Record` objects: search pages and ``$export`` files.

Pure functions, no network. One bad resource never loses its neighbours: it comes back as a
:class:`~rorsync.sources.fhir.errors.ResourceError` (a ``RecordError``) for the caller to quarantine,
located by its place in the page or file. A body or file that is not readable as a whole raises
:class:`~rorsync.sources.fhir.errors.FhirParseError` instead, because nothing after the failure can be
trusted (a truncated download must fail the load, not shorten it silently).

Payloads: pages and export files give each record ``orjson.dumps(resource)``, the compact form with
keys in received order, so a resource's payload (and its hash in the store) does not depend on
whether it came pretty-printed in an export or compact in a search page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

import ijson
import orjson

from rorsync.model import Entity, Record, RecordError
from rorsync.sources.fhir.errors import (
    FhirParseError,
    OperationOutcomeError,
    OutcomeIssue,
    ResourceError,
)
from rorsync.sources.fhir.mapping import record_from_resource
from rorsync.sources.fhir.mapping.common import json_type

__all__ = [
    "NDJSON_PROBE_BYTES",
    "STREAM_THRESHOLD_BYTES",
    "SearchPage",
    "iter_export_records",
    "parse_search_page",
    "read_export_file",
    "record_from_resource",
]

STREAM_THRESHOLD_BYTES: Final = 16 * 1024 * 1024
"""Export files up to this size are read at once with orjson; larger ones are streamed.

Measured (``benchmarks/fhir_parse.py``): past a few tens of MB, holding the whole document as Python
objects costs more in cyclic-GC passes and page faults than ijson's slower tokenizer, so streaming is
as fast or faster, on top of keeping memory bounded."""
NDJSON_PROBE_BYTES: Final = 8 * 1024 * 1024
"""Longest first line read to tell NDJSON from a single JSON document when streaming."""
UTF8_BOM: Final = b"\xef\xbb\xbf"
WHITESPACE: Final = b" \t\r\n"


@dataclass(slots=True)
class SearchPage:
    """One searchset Bundle: its records (deduplicated by resource), the entries that failed, paging."""

    records: list[Record]
    errors: list[RecordError]
    total: int | None  # Bundle.total: the number of matches of the whole search
    next_url: str | None  # link[relation=next].url, to follow as is
    matched: int  # entries with search.mode "match" (or none), mapped or not: compare with total
    entries: int = 0
    skipped: list[str] = field(default_factory=list)  # "Type/id" of resources the mirror does not keep

    @property
    def empty(self) -> bool:
        return self.entries == 0


def _outcome_issues(body: dict[str, Any]) -> list[OutcomeIssue]:
    issues = body.get("issue")
    found: list[OutcomeIssue] = []
    for issue in issues if type(issues) is list else ():
        if type(issue) is dict:
            severity, code, diagnostics = issue.get("severity"), issue.get("code"), issue.get("diagnostics")
            found.append(
                OutcomeIssue(
                    severity if type(severity) is str else None,
                    code if type(code) is str else None,
                    diagnostics if type(diagnostics) is str else None,
                )
            )
    return found


def _next_url(bundle: dict[str, Any]) -> str | None:
    links = bundle.get("link")
    for link in links if type(links) is list else ():
        if type(link) is dict and link.get("relation") == "next" and type(link.get("url")) is str:
            url: str = link["url"]
            return url
    return None


def _entry_resource(entry: Any, place: str) -> dict[str, Any]:
    if type(entry) is not dict:
        raise ResourceError(place, f"expected an entry object, got {json_type(entry)}")
    resource = entry.get("resource")
    if type(resource) is not dict:
        reason = "no resource" if resource is None else f"resource is a JSON {json_type(resource)}, not an object"
        raise ResourceError(place, reason, orjson.dumps(entry))
    return resource


def _map(resource: Any, place: str) -> Record | None:
    try:
        return record_from_resource(resource)
    except ResourceError as error:
        raise error.located(place) from None


def parse_search_page(data: bytes) -> SearchPage:
    """Read one searchset Bundle (``match`` and ``include`` entries alike).

    A resource present twice in the page (matched and included) gives one record, its newest
    version. Raises :class:`OperationOutcomeError` for an ``OperationOutcome`` body and
    :class:`FhirParseError` for malformed JSON or any body that is not a Bundle.
    """
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise FhirParseError(f"search page: malformed JSON at character {error.pos}: {error.msg}") from None
    if type(body) is not dict:
        raise FhirParseError(f"search page: expected a Bundle object, got a JSON {json_type(body)}")
    resource_type = body.get("resourceType")
    if resource_type == "OperationOutcome":
        raise OperationOutcomeError(_outcome_issues(body))
    if resource_type != "Bundle":
        raise FhirParseError(f"search page: expected a Bundle, got resourceType {resource_type!r}")
    total = body.get("total")
    if total is not None and type(total) is not int:
        raise FhirParseError(f"search page: Bundle.total is a JSON {json_type(total)}, not an integer")
    entries = body.get("entry")
    if entries is None:
        entries = []
    elif type(entries) is not list:
        raise FhirParseError(f"search page: Bundle.entry is a JSON {json_type(entries)}, not an array")

    page = SearchPage(records=[], errors=[], total=total, next_url=_next_url(body), matched=0, entries=len(entries))
    newest: dict[tuple[Entity, str], int] = {}
    for index, entry in enumerate(entries):
        place = f"entry[{index}]"
        search = entry.get("search") if type(entry) is dict else None
        mode = search.get("mode") if type(search) is dict else None
        if mode is None or mode == "match":
            page.matched += 1
        try:
            record = _map(_entry_resource(entry, place), place)
        except ResourceError as error:
            page.errors.append(error)
            continue
        if record is None:
            resource = entry["resource"]
            page.skipped.append(f"{resource.get('resourceType')}/{resource.get('id')}")
            continue
        key = (record.entity, record.resource_id)
        seen = newest.get(key)
        if seen is None:
            newest[key] = len(page.records)
            page.records.append(record)
        elif record.last_updated > page.records[seen].last_updated:
            page.records[seen] = record
    return page


# --- export files ---------------------------------------------------------------------------------------


def iter_export_records(
    path: Path, *, stream_threshold: int = STREAM_THRESHOLD_BYTES
) -> Iterator[Record | RecordError]:
    """Records of one ``$export`` output file, with the entries that failed as errors, in file order.

    Accepted shapes, since the ROR's is unverified: a Bundle of any type (``entry[].resource``), a
    bare JSON array of resources, NDJSON (one resource per line), and a lone resource; Bundles found
    inside an array or on an NDJSON line are expanded too. Files above ``stream_threshold`` bytes
    are streamed (ijson, C backend) so memory stays bounded whatever the file size; smaller ones are
    read at once with orjson. Raises :class:`FhirParseError` naming the file and place when the file
    is not readable JSON (in NDJSON only the bad line is reported, as an error item).
    """
    if path.stat().st_size <= stream_threshold:
        yield from _records_in_memory(path, path.read_bytes().removeprefix(UTF8_BOM))
    else:
        with path.open("rb") as stream:
            yield from _records_streamed(path, stream)


def read_export_file(path: Path) -> list[Record | RecordError]:
    """All of :func:`iter_export_records` for one file at once (a file small enough to read whole)."""
    return list(iter_export_records(path))


def _records_of(item: Any, place: str) -> Iterator[Record | RecordError]:
    """The record of one resource, or of every entry when ``item`` is a Bundle."""
    if type(item) is dict and item.get("resourceType") == "Bundle":
        yield from _bundle_records(item, f"{place}.")
        return
    try:
        record = _map(item, place)
    except ResourceError as error:
        yield error
        return
    if record is not None:
        yield record


def _bundle_records(bundle: dict[str, Any], prefix: str) -> Iterator[Record | RecordError]:
    entries = bundle.get("entry")
    if entries is not None and type(entries) is not list:
        yield ResourceError(f"{prefix}entry", f"expected an array, got a JSON {json_type(entries)}")
        return
    for index, entry in enumerate(entries or ()):
        yield from _entry_records(entry, f"{prefix}entry[{index}]")


def _entry_records(entry: Any, place: str) -> Iterator[Record | RecordError]:
    try:
        resource = _entry_resource(entry, place)
    except ResourceError as error:
        yield error
        return
    yield from _records_of(resource, place)


def _items_records(items: Iterable[Any], place: str) -> Iterator[Record | RecordError]:
    for index, item in enumerate(items):
        yield from _records_of(item, f"{place}[{index}]")


def _ndjson_records(path: Path, lines: Iterable[bytes]) -> Iterator[Record | RecordError]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        place = f"{path}:line {number}"
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            yield ResourceError(place, f"malformed JSON at character {error.pos}: {error.msg}", line.rstrip())
            continue
        yield from _records_of(item, place)


def _is_json_line(line: bytes) -> bool:
    """True when ``line`` is one complete JSON object: the file is NDJSON (or a one-line document)."""
    if not line.endswith(b"\n") or not line.lstrip().startswith(b"{"):
        return False
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def _records_in_memory(path: Path, data: bytes) -> Iterator[Record | RecordError]:
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        if _is_json_line(data[: data.find(b"\n") + 1]):
            yield from _ndjson_records(path, data.splitlines())
            return
        raise FhirParseError(f"{path}: malformed JSON at character {error.pos}: {error.msg}") from None
    if type(body) is list:
        yield from _items_records(body, f"{path}:item")
    elif type(body) is dict:
        resource_type = body.get("resourceType")
        if resource_type == "OperationOutcome":
            raise OperationOutcomeError(_outcome_issues(body))
        if resource_type == "Bundle":
            yield from _bundle_records(body, f"{path}:")
        else:
            yield from _records_of(body, str(path))
    else:
        raise FhirParseError(
            f"{path}: expected a Bundle, an array of resources or NDJSON, got a JSON {json_type(body)}"
        )


ItemReader = Callable[[Any, str], Iterator[Record | RecordError]]


def _records_streamed(path: Path, stream: IO[bytes]) -> Iterator[Record | RecordError]:
    head = stream.read(4096)
    start = len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0
    content = head[start:].lstrip(WHITESPACE)
    first = content[:1]
    stream.seek(start)
    records_of: ItemReader
    if first == b"[":
        items, place, records_of = ijson.items(stream, "item", use_float=True), f"{path}:item", _records_of
    elif first == b"{":
        if _is_json_line(stream.readline(NDJSON_PROBE_BYTES)):
            stream.seek(start)
            yield from _ndjson_records(path, stream)
            return
        stream.seek(start)
        items, place, records_of = ijson.items(stream, "entry.item", use_float=True), f"{path}:entry", _entry_records
    else:
        raise FhirParseError(f"{path}: expected a Bundle, an array of resources or NDJSON, starts with {first!r}")
    index = -1
    try:
        for index, item in enumerate(items):
            yield from records_of(item, f"{place}[{index}]")
    except ijson.JSONError as error:
        raise FhirParseError(f"{path}: malformed JSON after {place}[{index}]: {error}") from None
