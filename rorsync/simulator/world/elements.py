"""FHIR building blocks shared by every resource the world writes: codings, telecoms, meta, references.

Every code comes from the packaged NOS tables (:mod:`rorsync.codes`) and every URL from the shared ROR
vocabulary (:mod:`rorsync.sources.fhir.profile`), so the simulator cannot drift from what the parser reads.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from rorsync import codes
from rorsync.simulator.world.instants import fhir_instant
from rorsync.sources.fhir import profile

Json = dict[str, Any]

# TRE_R200 channel → FHIR ContactPoint.system
CHANNEL_SYSTEMS = {"1": "phone", "2": "phone", "3": "email", "4": "url", "6": "fax", "8": "phone", "9": "email"}


@cache
def _system(table_id: str) -> str:
    return codes.table(table_id).fhir_system


def coding(table_id: str, code: str, *, display: bool = True) -> Json:
    """A NOS coding, with its display by default; raises ``KeyError`` naming the table when the code is unknown.

    Codings nested in technical extensions (telecom markers, capacity lines) go without display, which
    keeps national-scale bodies compact; clients never rely on displays. The dict is shared between
    callers (generation calls this a hundred thousand times a second): never mutate it.
    """
    return _coding(table_id, code, display)


@cache
def _coding(table_id: str, code: str, display: bool) -> Json:
    label = codes.table(table_id).labels.get(code)
    if label is None:
        raise KeyError(f"code {code!r} is not in NOS table {table_id}")
    if not display:
        return {"system": _system(table_id), "code": code}
    return {"system": _system(table_id), "code": code, "display": label}


def concept(table_id: str, code: str, *, display: bool = True) -> Json:
    return {"coding": [coding(table_id, code, display=display)]}


def level_concept(level: int) -> Json:
    return concept("TRE_R283", str(level), display=False)


def telecom(channel: str, value: str, level: int) -> Json:
    """A ContactPoint with the two mandatory ROR extensions (channel and confidentiality level)."""
    return {
        "extension": [
            {"url": profile.EXT_TELECOM_CHANNEL, "valueCodeableConcept": concept("TRE_R200", channel, display=False)},
            {"url": profile.EXT_TELECOM_CONFIDENTIALITY, "valueCodeableConcept": level_concept(level)},
        ],
        "system": CHANNEL_SYSTEMS.get(channel, "other"),
        "value": value,
    }


def meta(last_updated: int, region: str) -> Json:
    """``meta`` as the ROR fills it: lastUpdated and the region tag, never ``meta.profile``."""
    return {"lastUpdated": fhir_instant(last_updated), "tag": [coding("TRE_R30", region)]}


def creation_date(created: int) -> Json:
    return {"url": profile.EXT_CREATION_DATE, "valueDateTime": fhir_instant(created)}


def identifier(value: str, system: str | None = None, type_coding: Json | None = None) -> Json:
    found: Json = {}
    if type_coding is not None:
        found["type"] = {"coding": [type_coding]}
    if system is not None:
        found["system"] = system
    found["value"] = value
    return found


def type_coding(system: str, code: str) -> Json:
    return {"system": system, "code": code}


def reference(resource_type: str, resource_id: str) -> Json:
    return {"reference": f"{resource_type}/{resource_id}"}


def reference_id(ref: Json | None, resource_type: str) -> str | None:
    """The logical id of a local ``Type/id`` reference, ``None`` when absent or of another type."""
    if not ref:
        return None
    kind, _, ident = str(ref.get("reference", "")).partition("/")
    return ident if kind == resource_type and ident else None


def extension_value(resource: Json, url: str, key: str) -> Any:
    for ext in resource.get("extension", ()):
        if ext.get("url") == url:
            return ext.get(key)
    return None


def sub_extension(extension: Json, url: str) -> Json | None:
    for sub in extension.get("extension", ()):
        if sub.get("url") == url:
            return sub  # type: ignore[no-any-return]
    return None


def concept_code(value: Json | None) -> str:
    """The first code of a CodeableConcept (``""`` when absent), the form the indexes store."""
    if not value:
        return ""
    for found in value.get("coding", ()):
        if found.get("code"):
            return str(found["code"])
    return ""


def level_of(extensions: list[Json], url: str) -> int | None:
    """A confidentiality level carried by the extension ``url`` among ``extensions`` (None when missing)."""
    for ext in extensions:
        if ext.get("url") == url:
            code = concept_code(ext.get("valueCodeableConcept"))
            return int(code) if code.isdigit() else None
    return None
