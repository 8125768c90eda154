"""Building blocks shared by the per-resource mappers: typed access, codes, times, references, telecoms.

Everything here runs on the hot path of a national load (about 1.5 million resources), so it reads
the parsed JSON directly with a few ``type(...) is`` checks rather than walking it generically or
validating it with models. Structural problems raise :class:`FieldError` carrying a FHIR-like path;
the path grows as the error unwinds through :meth:`FieldError.within`, which costs nothing on the
happy path, and :func:`rorsync.sources.fhir.mapping.record_from_resource` turns it into a
:class:`~rorsync.sources.fhir.errors.ResourceError` naming the resource.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from functools import cache, lru_cache
from typing import Any, Final, NoReturn, TypeVar
from zoneinfo import ZoneInfo

from rorsync import codes
from rorsync.model import CodeRow, ContactRow
from rorsync.sources.fhir import profile

JSON = dict[str, Any]
T = TypeVar("T")

UTC: Final = dt.UTC
PARIS: Final = ZoneInfo("Europe/Paris")


class FieldError(Exception):
    """A value of the wrong shape or an unusable mandatory element, at ``path`` inside the resource."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def within(self, prefix: str) -> FieldError:
        return FieldError(f"{prefix}.{self.path}" if self.path else prefix, self.reason)


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for error messages."""
    if value is None:
        return "null"
    if type(value) is bool:
        return "boolean"
    if type(value) in (int, float):
        return "number"
    if type(value) is str:
        return "string"
    if type(value) is list:
        return "array"
    return "object"


# --- typed access ------------------------------------------------------------------------------------


def opt_str(owner: JSON, key: str) -> str | None:
    value = owner.get(key)
    if value is None or type(value) is str:
        return value
    raise FieldError(key, f"expected a string, got {json_type(value)}")


def opt_list(owner: JSON, key: str) -> list[Any]:
    value = owner.get(key)
    if value is None:
        return []
    if type(value) is list:
        return value
    raise FieldError(key, f"expected an array, got {json_type(value)}")


def opt_obj(owner: JSON, key: str) -> JSON | None:
    value = owner.get(key)
    if value is None or type(value) is dict:
        return value
    raise FieldError(key, f"expected an object, got {json_type(value)}")


def obj_items(owner: JSON, key: str) -> list[JSON]:
    """The array ``owner[key]`` whose items must all be objects (FHIR repeating complex elements)."""
    items = opt_list(owner, key)
    for index, item in enumerate(items):
        if type(item) is not dict:
            raise FieldError(f"{key}[{index}]", f"expected an object, got {json_type(item)}")
    return items


def _first_item(owner: JSON, key: str) -> Any:
    value = owner.get(key)
    if type(value) is list:
        return value[0] if value else None
    return value


def first_obj(owner: JSON, key: str) -> JSON | None:
    """First item of a repeating complex element, or ``None``; accepts a lone object too."""
    value = _first_item(owner, key)
    if value is None or type(value) is dict:
        return value
    raise FieldError(key, f"expected an object, got {json_type(value)}")


def first_str(owner: JSON, key: str) -> str | None:
    """First item of a repeating string element (``alias``, ``prefix``...), accepting a lone string."""
    value = _first_item(owner, key)
    if value is None or type(value) is str:
        return value
    raise FieldError(key, f"expected a string, got {json_type(value)}")


def opt_int(value: Any, path: str) -> int | None:
    if value is None or (type(value) is int):
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    raise FieldError(path, f"expected an integer, got {json_type(value)}")


def opt_float(value: Any, path: str) -> float | None:
    if value is None or type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise FieldError(path, f"expected a number, got {json_type(value)}")


def opt_bool(value: Any, path: str) -> bool | None:
    if value is None or type(value) is bool:
        return value
    raise FieldError(path, f"expected a boolean, got {json_type(value)}")


# --- extensions --------------------------------------------------------------------------------------


def index_extensions(owner: JSON) -> dict[str, list[JSON]]:
    """``owner.extension`` grouped by URL, built once per element so each lookup is a dict hit."""
    by_url: dict[str, list[JSON]] = {}
    extensions = owner.get("extension")
    if extensions is None:
        return by_url
    try:
        for extension in extensions:
            url = extension["url"]
            found = by_url.get(url)
            if found is None:
                if type(url) is not str:
                    _raise_bad_extensions(extensions)
                by_url[url] = [extension]
            else:
                found.append(extension)
    except (TypeError, KeyError):
        _raise_bad_extensions(extensions)
    return by_url


def _raise_bad_extensions(extensions: Any) -> NoReturn:
    if type(extensions) is not list:
        raise FieldError("extension", f"expected an array, got {json_type(extensions)}")
    for index, extension in enumerate(extensions):
        if type(extension) is not dict or type(extension.get("url")) is not str:
            raise FieldError(f"extension[{index}]", "expected an object with a string url")
    raise AssertionError("unreachable: every extension is an object with a string url")


def first_extension(by_url: dict[str, list[JSON]], url: str) -> JSON | None:
    found = by_url.get(url)
    return found[0] if found else None


def ext_value(by_url: dict[str, list[JSON]], url: str, read: Callable[[JSON | None], T]) -> T:
    """``read`` applied to the first extension at ``url``, errors located at that extension."""
    extension = by_url.get(url)
    if not extension:
        return read(None)
    try:
        return read(extension[0])
    except FieldError as error:
        raise error.within(f"extension({url.rpartition('/')[2]})") from None


ExtensionColumns = dict[str, tuple[str, Callable[[JSON], Any]]]


def extension_columns(by_url: dict[str, list[JSON]], columns: ExtensionColumns, row: dict[str, Any]) -> None:
    """``row[column] = read(extension)`` for each extension of ``columns`` present (first one wins).

    Walks the extensions the element has rather than looking up every known URL: most are absent.
    ``row`` may be a template of ``None`` columns or an empty dict.
    """
    for url, found in by_url.items():
        target = columns.get(url)
        if target is not None and row.get(target[0]) is None:
            try:
                row[target[0]] = target[1](found[0])
            except FieldError as error:
                raise error.within(f"extension({url.rpartition('/')[2]})") from None


def with_short_names(columns: ExtensionColumns) -> ExtensionColumns:
    """``columns`` also keyed by the last URL segment of each canonical URL.

    Inside a complex extension, a slice defined by another extension carries that extension's
    canonical URL (``…/ror-confidentiality-level``); some producers write only its short name.
    """
    return columns | {url.rpartition("/")[2]: target for url, target in columns.items() if "/" in url}


VALUE_CODE_KEYS: Final = ("valueCodeableConcept", "valueCoding", "valueCode", "valueString")


def extension_code(extension: JSON | None) -> tuple[str | None, str | None]:
    """``(code, system)`` of a coded extension value, whatever its form.

    The IG uses ``valueCodeableConcept``; older capacity extensions used plain codes, so ``valueCoding``,
    ``valueCode`` and ``valueString`` are read as well.
    """
    if extension is None:
        return None, None
    concept = extension.get("valueCodeableConcept")
    if concept is not None:
        try:
            return concept_code(concept)
        except FieldError as error:
            raise error.within("valueCodeableConcept") from None
    for key in VALUE_CODE_KEYS:
        value = extension.get(key)
        if value is None:
            continue
        if key == "valueCoding":
            try:
                return coding_code(value)
            except FieldError as error:
                raise error.within(key) from None
        if type(value) is str:
            return value, None
        raise FieldError(key, f"expected a string, got {json_type(value)}")
    return None, None


def extension_value_code(extension: JSON | None) -> str | None:
    return extension_code(extension)[0]


def extension_str(extension: JSON | None) -> str | None:
    if extension is None:
        return None
    return opt_str(extension, "valueString")


def extension_bool(extension: JSON | None) -> bool | None:
    if extension is None:
        return None
    return opt_bool(extension.get("valueBoolean"), "valueBoolean")


def extension_date(extension: JSON | None) -> dt.date | None:
    if extension is None:
        return None
    value = extension.get("valueDate")
    if value is None:
        value = extension.get("valueDateTime")
    return opt_date(value, "value[x]")


def extension_human_name(extension: JSON | None) -> str | None:
    return human_name_text(opt_obj(extension, "valueHumanName")) if extension is not None else None


def extension_int(extension: JSON | None) -> int | None:
    if extension is None:
        return None
    for key in ("valueInteger", "valueUnsignedInt", "valuePositiveInt", "valueDecimal"):
        value = extension.get(key)
        if value is not None:
            return opt_int(value, key)
    return None


# --- codes --------------------------------------------------------------------------------------------


@cache
def table_for_system(system: str | None) -> str | None:
    """NOS table id of a coding system (memoised: a national load sees a few dozen systems)."""
    return codes.table_for_system(system) if system else None


def coding_code(coding: Any) -> tuple[str | None, str | None]:
    if type(coding) is not dict:
        raise FieldError("", f"expected a Coding object, got {json_type(coding)}")
    code = coding.get("code")
    system = coding.get("system")
    if (code is None or type(code) is str) and (system is None or type(system) is str):
        return code, system
    raise FieldError("", "code and system must be strings")


def concept_code(concept: Any) -> tuple[str | None, str | None]:
    """``(code, system)`` of the first coding that has a code in a CodeableConcept."""
    try:  # fast path: one well-formed coding, by far the common case
        coding = concept["coding"][0]
        code = coding["code"]
        system = coding.get("system")
        if type(code) is str and code and (system is None or type(system) is str):
            return code, system
    except (TypeError, KeyError, IndexError, AttributeError):
        pass
    if type(concept) is not dict:
        raise FieldError("", f"expected a CodeableConcept object, got {json_type(concept)}")
    codings = concept.get("coding")
    if codings is None:
        return None, None
    if type(codings) is not list:
        raise FieldError("coding", f"expected an array, got {json_type(codings)}")
    for index, coding in enumerate(codings):
        try:
            code, system = coding_code(coding)
        except FieldError as error:
            raise error.within(f"coding[{index}]") from None
        if code:
            return code, system
    return None, None


def concept_codes(concept: Any) -> list[tuple[str, str | None]]:
    """Every ``(code, system)`` of a CodeableConcept (type slices put several codings in one concept)."""
    if type(concept) is not dict:
        raise FieldError("", f"expected a CodeableConcept object, got {json_type(concept)}")
    found: list[tuple[str, str | None]] = []
    for index, coding in enumerate(opt_list(concept, "coding")):
        try:
            code, system = coding_code(coding)
        except FieldError as error:
            raise error.within(f"coding[{index}]") from None
        if code:
            found.append((code, system))
    return found


def codings_of(owner: JSON, key: str) -> Iterator[tuple[str, str | None]]:
    """Every ``(code, system)`` of the CodeableConcepts of ``owner[key]``, errors located at ``key[i]``."""
    for index, concept in enumerate(obj_items(owner, key)):
        try:
            found = concept_codes(concept)
        except FieldError as error:
            raise error.within(f"{key}[{index}]") from None
        yield from found


def first_concept_code(owner: JSON, key: str) -> str | None:
    """Code of the first CodeableConcept of ``owner[key]`` (a lone concept or an array of them)."""
    concept = first_obj(owner, key)
    if concept is None:
        return None
    try:
        return concept_code(concept)[0]
    except FieldError as error:
        raise error.within(key) from None


def code_row(kind: str, code: str, system: str | None) -> CodeRow:
    return {"kind": kind, "table_id": table_for_system(system), "code": code}


def extension_codes(found: Sequence[JSON], name: str, kind: str, rows: list[CodeRow]) -> None:
    """One code row of ``kind`` per coded extension in ``found`` (all named ``name``, for errors)."""
    for index, extension in enumerate(found):
        try:
            code, system = extension_code(extension)
        except FieldError as error:
            raise error.within(f"extension({name})[{index}]") from None
        if code:
            rows.append(code_row(kind, code, system))


TERRITORY_CODE_NAME: Final = "territorialDivisionCode"


def territorial_codes(by_url: dict[str, list[JSON]], rows: list[CodeRow]) -> None:
    """``ror-territorial-division`` (intervention zone): the code of each division, with its NOS table.

    The division's code sits in the ``territorialDivisionCode`` sub-extension (commune, department,
    region... each from its own table); a simple coded extension is read too.
    """
    for index, extension in enumerate(by_url.get(profile.EXT_TERRITORIAL_DIVISION, ())):
        try:
            division = index_extensions(extension).get(TERRITORY_CODE_NAME)
            code, system = extension_code(division[0] if division else extension)
        except FieldError as error:
            raise error.within(f"extension(ror-territorial-division)[{index}]") from None
        if code:
            rows.append(code_row("intervention_zone", code, system))


# --- times --------------------------------------------------------------------------------------------


def parse_datetime(value: Any, path: str) -> dt.datetime:
    """A FHIR ``dateTime``/``instant`` as an aware UTC datetime.

    Offsets are converted to UTC. FHIR requires an offset whenever a time is given; a value without
    one is read as Europe/Paris time, the ROR's local time, rather than rejected. A date alone (or a
    year-month, or a year) where a time is expected means midnight of its first day, Paris time.
    """
    if type(value) is not str:
        raise FieldError(path, f"expected a dateTime string, got {json_type(value)}")
    try:
        return _utc(value)
    except ValueError:
        raise FieldError(path, f"invalid date or dateTime {value!r}") from None


@lru_cache(maxsize=4096)
def _utc(value: str) -> dt.datetime:
    """Memoised: capacity indicators of one Location, and whole batches, share their timestamps."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        parsed = dt.datetime.combine(_partial_date(value), dt.time())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=PARIS)
    return parsed.astimezone(UTC)


def opt_datetime(value: Any, path: str) -> dt.datetime | None:
    return None if value is None else parse_datetime(value, path)


def parse_date(value: Any, path: str) -> dt.date:
    """A FHIR ``date`` (or the date part of a ``dateTime``, as written); partial dates mean their first day."""
    if type(value) is not str:
        raise FieldError(path, f"expected a date string, got {json_type(value)}")
    try:
        return dt.date.fromisoformat(value[:10]) if len(value) >= 10 else _partial_date(value)
    except ValueError:
        raise FieldError(path, f"invalid date {value!r}") from None


def opt_date(value: Any, path: str) -> dt.date | None:
    return None if value is None else parse_date(value, path)


def _partial_date(value: str) -> dt.date:
    """``YYYY`` or ``YYYY-MM`` → its first day; raises ``ValueError`` for anything else."""
    year, _, month = value.partition("-")
    if len(year) != 4 or (month and len(month) != 2):
        raise ValueError(value)
    return dt.date(int(year), int(month or 1), 1)


# --- references -----------------------------------------------------------------------------------------


def reference_id(reference: Any, expected_type: str, path: str) -> str | None:
    """Logical id of a Reference to ``expected_type`` (relative, absolute or versioned); ``None`` if absent.

    References that only carry an identifier, or point into ``contained``, have no id to store.
    """
    if reference is None:
        return None
    if type(reference) is not dict:
        raise FieldError(path, f"expected a Reference object, got {json_type(reference)}")
    target = reference.get("reference")
    if target is None:
        return None
    if type(target) is not str:
        raise FieldError(f"{path}.reference", f"expected a string, got {json_type(target)}")
    if target.startswith("#"):
        return None
    target = target.partition("/_history/")[0]
    head, _, resource_id = target.rpartition("/")
    resource_type = head.rpartition("/")[2]
    if resource_type and resource_type != expected_type:
        raise FieldError(f"{path}.reference", f"expected a reference to {expected_type}, got {target!r}")
    return resource_id or None


def first_reference_id(owner: JSON, key: str, expected_type: str) -> str | None:
    """Id of ``owner[key]``, a lone Reference or the first of an array of them."""
    value = owner.get(key)
    if type(value) is list:
        return reference_id(value[0], expected_type, f"{key}[0]") if value else None
    return reference_id(value, expected_type, key)


# --- names and addresses ----------------------------------------------------------------------------


def human_name_text(name: JSON | None) -> str | None:
    """A HumanName as display text: its ``text``, else given names then family name."""
    if name is None:
        return None
    text = opt_str(name, "text")
    if text:
        return text
    parts = [part for part in opt_list(name, "given") if type(part) is str]
    family = opt_str(name, "family")
    if family:
        parts.append(family)
    return " ".join(parts) or None


def address_columns(address: JSON | None) -> tuple[str | None, str | None, str | None]:
    """``(address_line, postal_code, city)``; several street lines are joined with ``", "``."""
    if address is None:
        return None, None, None
    lines = opt_list(address, "line")
    for index, line in enumerate(lines):
        if type(line) is not str:
            raise FieldError(f"line[{index}]", f"expected a string, got {json_type(line)}")
    line_text = ", ".join(filter(None, lines)) or None
    return line_text, opt_str(address, "postalCode"), opt_str(address, "city")


# --- contacts and telecoms --------------------------------------------------------------------------


CONFIDENTIALITY_LEVELS: Final = {"1": 1, "2": 2, "3": 3}


def confidentiality(extension: JSON | None) -> int | None:
    """TRE_R283 level 1–3; absent or outside that range gives ``None``, which the policy treats as level 3."""
    code = extension_value_code(extension)
    return CONFIDENTIALITY_LEVELS.get(code) if code is not None else None


# ContactPoint.system → TRE_R200 channel, used only when the ROR channel extension is missing (the FR
# Core / Annuaire MSS mailbox profile drops it: an MSS box is then a plain ``system=email``).
CHANNEL_BY_SYSTEM: Final = {"email": "3", "url": "4", "fax": "6"}
CHANNEL_PHONE_MOBILE: Final = "1"
CHANNEL_PHONE_FIXED: Final = "2"


def _fallback_channel(point: JSON) -> str | None:
    system = opt_str(point, "system")
    if system == "phone":
        return CHANNEL_PHONE_MOBILE if point.get("use") == "mobile" else CHANNEL_PHONE_FIXED
    return CHANNEL_BY_SYSTEM.get(system) if system else None


ContactFields = tuple[int | None, str | None, str | None, str | None, str | None, int | None]
NO_CONTACT: Final[ContactFields] = (None, None, None, None, None, None)


def contact_row(
    contact: ContactFields, channel: str | None, value: str | None, usage: str | None, level: int | None
) -> ContactRow:
    ordinal, name, purpose, function, description, contact_level = contact
    return {
        "contact_ord": ordinal,
        "contact_name": name,
        "purpose_code": purpose,
        "function_code": function,
        "description": description,
        "contact_confidentiality": contact_level,
        "channel_code": channel,
        "value": value,
        "usage_code": usage,
        "telecom_confidentiality": level,
    }


def contact_point_row(point: JSON, contact: ContactFields) -> ContactRow:
    """One ContactPoint (``telecom``) with the ROR channel, usage and confidentiality extensions."""
    channel = usage = level = None
    for url, found in index_extensions(point).items():
        try:
            if url == profile.EXT_TELECOM_CHANNEL:
                channel = extension_value_code(found[0])
            elif url == profile.EXT_TELECOM_USAGE:
                usage = extension_value_code(found[0])
            elif url == profile.EXT_TELECOM_CONFIDENTIALITY:
                level = confidentiality(found[0])
        except FieldError as error:
            raise error.within(f"extension({url.rpartition('/')[2]})") from None
    if channel is None:
        channel = _fallback_channel(point)
    return contact_row(contact, channel, opt_str(point, "value"), usage, level)


def telecom_rows(owner: JSON, contact: ContactFields, rows: list[ContactRow], key: str = "telecom") -> None:
    """Append one row per ContactPoint of ``owner[key]``; a contact without any gets one telecom-less row."""
    points = obj_items(owner, key)
    for index, point in enumerate(points):
        try:
            rows.append(contact_point_row(point, contact))
        except FieldError as error:
            raise error.within(f"{key}[{index}]") from None
    if not points and contact is not NO_CONTACT:
        rows.append(contact_row(contact, None, None, None, None))
