"""Search requests: the query string of a FHIR search, parsed and checked (pure, no I/O).

Supported, per ``fhir-mev3.md`` §4–5: ``_id``, ``identifier`` (comma lists, ``system|value``), ``_tag``,
``_lastUpdated`` (``eq``/``ge``/``gt``/``le``/``lt``, repeatable), ``_count`` (default and maximum 200),
``_sort=_lastUpdated``, the includes the guide lists, the reference parameters of the indexed links
(``Organization?partof=``, ``HealthcareService?organization=``, ``Location?organization=``, ...: ids or
``Type/id``, comma lists), and on Location ``status``, ``operational-status``, ``capacity-status``,
``nb-capacity`` and ``capacity-update-date``. Anything else is refused with a 400
naming the parameter, as HAPI does, so a client never silently gets an unfiltered result.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from rorsync.simulator.fhir.outcome import FhirError
from rorsync.simulator.world.index import LINKS
from rorsync.simulator.world.instants import PARIS, to_micros
from rorsync.sources.fhir import profile

SEARCHABLE_TYPES = profile.RESOURCE_TYPES
DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 200
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")
IGNORED = frozenset({"_format", "_pretty", "_elements", "_total", "_summary"})

# The includes of the IG (fhir-mev3 §4): "<source type>:<parameter>" → target type.
INCLUDES = {
    "HealthcareService:organization": "Organization",
    "HealthcareService:location": "Location",
    "Organization:partof": "Organization",
    "PractitionerRole:practitioner": "Practitioner",
    "PractitionerRole:service": "HealthcareService",
}
REVINCLUDES = {
    "HealthcareService": ("PractitionerRole:service",),
    "Location": ("HealthcareService:location",),
}
LOCATION_TOKENS = ("status", "operational-status")
CAPACITY_PARAMETERS = ("capacity-status", "nb-capacity", "capacity-update-date")


@dataclass(frozen=True, slots=True)
class Range:
    """A half-open interval of instants [start, end) in µs; ``None`` means unbounded."""

    start: int | None
    end: int | None


@dataclass(frozen=True, slots=True)
class Token:
    system: str | None  # None: any system
    code: str


@dataclass(frozen=True, slots=True)
class NumberTest:
    prefix: str
    value: int


@dataclass(frozen=True, slots=True)
class Include:
    source_type: str
    parameter: str
    target_type: str
    reverse: bool
    iterate: bool


@dataclass(slots=True)
class SearchRequest:
    resource_type: str
    ids: list[list[str]] = field(default_factory=list)  # AND of OR-lists
    tags: list[list[Token]] = field(default_factory=list)
    tokens: list[tuple[str, list[Token]]] = field(default_factory=list)  # (parameter, OR-list)
    references: list[tuple[str, list[str]]] = field(default_factory=list)  # (parameter, OR-list of target ids)
    last_updated: list[list[Range]] = field(default_factory=list)
    capacity_status: list[list[Token]] = field(default_factory=list)
    nb_capacity: list[list[NumberTest]] = field(default_factory=list)
    capacity_update_date: list[list[Range]] = field(default_factory=list)
    count: int = DEFAULT_PAGE_SIZE
    sort_descending: bool | None = None  # None: no _sort (stable storage order)
    includes: list[Include] = field(default_factory=list)


def parse_search(resource_type: str, query: Iterable[tuple[str, str]]) -> SearchRequest:
    """Parse ``query`` (name, value pairs, repeated names kept) for a search on ``resource_type``."""
    if resource_type not in SEARCHABLE_TYPES:
        raise FhirError(404, "not-supported", f"unknown resource type {resource_type!r}")
    request = SearchRequest(resource_type)
    for name, value in query:
        base, _, modifier = name.partition(":")
        if base in IGNORED:
            continue
        if modifier and base not in ("_include", "_revinclude"):
            raise FhirError(400, "not-supported", f"modifier :{modifier} is not supported on {base}")
        _parse_one(request, base, modifier, value)
    return request


def _parse_one(request: SearchRequest, name: str, modifier: str, value: str) -> None:
    values = [item for item in value.split(",") if item]
    if name == "_id":
        request.ids.append(values)
    elif name == "identifier":
        request.tokens.append(("identifier", [_token(item) for item in values]))
    elif name == "_tag":
        request.tags.append([_token(item) for item in values])
    elif name == "_lastUpdated":
        request.last_updated.append([date_range(item, name) for item in values])
    elif name == "_count":
        request.count = min(_integer(value, name), MAX_PAGE_SIZE)
    elif name == "_sort":
        if value.lstrip("-") != "_lastUpdated":
            raise FhirError(400, "not-supported", f"_sort={value}: only _lastUpdated is supported")
        request.sort_descending = value.startswith("-")
    elif name in ("_include", "_revinclude"):
        request.includes.append(_include(request.resource_type, name, modifier, value))
    elif (request.resource_type, name) in LINKS:
        request.references.append((name, [item.rpartition("/")[2] for item in values]))
    elif request.resource_type == "Location" and name in LOCATION_TOKENS:
        request.tokens.append((name, [_token(item) for item in values]))
    elif request.resource_type == "Location" and name == "capacity-status":
        request.capacity_status.append([_token(item) for item in values])
    elif request.resource_type == "Location" and name == "nb-capacity":
        request.nb_capacity.append([_number(item, name) for item in values])
    elif request.resource_type == "Location" and name == "capacity-update-date":
        request.capacity_update_date.append([date_range(item, name) for item in values])
    else:
        raise FhirError(400, "not-supported", f"unknown search parameter {name!r} for {request.resource_type}")


def _token(text: str) -> Token:
    if "|" in text:
        system, _, code = text.partition("|")
        return Token(system, code)
    return Token(None, text)


def _integer(text: str, name: str) -> int:
    if not re.fullmatch(r"\d+", text):
        raise FhirError(400, "invalid", f"{name}={text!r} is not a non-negative integer")
    return int(text)


def _number(text: str, name: str) -> NumberTest:
    prefix, rest = _split_prefix(text)
    if prefix in ("sa", "eb"):
        raise FhirError(400, "not-supported", f"{name}: prefix {prefix} is not supported on numbers")
    return NumberTest(prefix, _integer(rest, name))


def _split_prefix(text: str) -> tuple[str, str]:
    if len(text) > 2 and text[:2] in PREFIXES and not text[:2].isdigit():
        return text[:2], text[2:]
    return "eq", text


_PRECISIONS = (
    (re.compile(r"\d{4}"), "year"),
    (re.compile(r"\d{4}-\d{2}"), "month"),
    (re.compile(r"\d{4}-\d{2}-\d{2}"), "day"),
)


def date_range(text: str, name: str) -> Range:
    """A date parameter with its prefix as an interval of instants, following the value's precision
    (``ge2024-05`` covers May; a dateTime without offset is read as Paris time)."""
    prefix, value = _split_prefix(text)
    start, end = _interval(value, name)
    if prefix == "eq":
        return Range(start, end)
    if prefix in ("ge", "sa"):
        return Range(start if prefix == "ge" else end, None)
    if prefix == "gt":
        return Range(end, None)
    if prefix in ("le", "eb"):
        return Range(None, end if prefix == "le" else start)
    if prefix == "lt":
        return Range(None, start)
    raise FhirError(400, "not-supported", f"{name}: prefix {prefix} is not supported")


def _interval(value: str, name: str) -> tuple[int, int]:
    for pattern, precision in _PRECISIONS:
        if pattern.fullmatch(value):
            parts = [int(part) for part in value.split("-")] + [1, 1]
            try:
                first = dt.datetime(parts[0], parts[1], parts[2], tzinfo=PARIS)
            except ValueError as error:
                raise FhirError(400, "invalid", f"{name}={value!r} is not a valid date") from error
            if precision == "year":
                after = first.replace(year=first.year + 1)
            elif precision == "month":
                after = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            else:
                after = first + dt.timedelta(days=1)
            return to_micros(first), to_micros(after)
    try:
        moment = dt.datetime.fromisoformat(value.replace(" ", "+"))
    except ValueError as error:
        raise FhirError(400, "invalid", f"{name}={value!r} is not a FHIR date or dateTime") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=PARIS)
    step = dt.timedelta(seconds=1) if moment.microsecond == 0 and "." not in value else dt.timedelta(milliseconds=1)
    return to_micros(moment), to_micros(moment + step)


def _include(resource_type: str, name: str, modifier: str, value: str) -> Include:
    if modifier not in ("", "iterate"):
        raise FhirError(400, "not-supported", f"{name}:{modifier} is not supported")
    source_type, _, parameter = value.partition(":")
    parameter, _, target = parameter.partition(":")
    key = f"{source_type}:{parameter}"
    reverse = name == "_revinclude"
    known = key in INCLUDES and (not reverse or key in REVINCLUDES.get(resource_type, ()))
    if not known or (target and target != INCLUDES[key]):
        raise FhirError(400, "not-supported", f"{name}={value} is not supported on {resource_type}")
    return Include(source_type, parameter, INCLUDES[key], reverse, modifier == "iterate")
