"""A small checker of extension instances against the IG's StructureDefinitions (differential only).

It checks what the shared IG JSON states: sub-extension names, cardinalities, value types and, for
bound CodeableConcepts, that the coding's NOS table is the one the bound JDV value set draws from
(matched by name: ``JDV_J188-TypeStatutCapacite-ROR`` ↔ ``TRE_R330-TypeStatutCapacite``) and that the
code is current in it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rorsync import codes

Json = dict[str, Any]


@dataclass
class Slice:
    url: str
    min: int
    max: str
    value_types: list[str] = field(default_factory=list)
    value_set: str | None = None


@dataclass
class ExtensionDefinition:
    url: str
    value_types: list[str]
    value_set: str | None
    slices: dict[str, Slice]
    min_sub: int


def load_extension_definitions(fhir_dir: Path) -> dict[str, ExtensionDefinition]:
    found = {}
    for path in sorted(fhir_dir.glob("StructureDefinition-*.json")):
        definition = json.loads(path.read_text())
        if definition.get("type") != "Extension":
            continue
        slices: dict[str, Slice] = {}
        value_types: list[str] = []
        value_set = None
        min_sub = 0
        for element in definition["differential"]["element"]:
            path_id = element["id"]
            match = re.fullmatch(r"Extension\.extension:([^.]+)(\..+)?", path_id)
            if path_id == "Extension.extension":
                min_sub = int(element.get("min", 0))
            elif path_id == "Extension.value[x]":
                value_types = [t["code"] for t in element.get("type", ())]
                value_set = element.get("binding", {}).get("valueSet")
            elif match:
                name, rest = match.group(1), match.group(2)
                current = slices.setdefault(name, Slice(name, 0, "*"))
                if rest is None:
                    current.min = int(element.get("min", current.min))
                    current.max = str(element.get("max", current.max))
                    for kind in element.get("type", ()):
                        if kind.get("code") == "Extension" and kind.get("profile"):
                            current.url = kind["profile"][0]
                elif rest == ".url" and "fixedUri" in element:
                    current.url = element["fixedUri"]
                elif rest == ".value[x]":
                    current.value_types = [t["code"] for t in element.get("type", ())]
                    current.value_set = element.get("binding", {}).get("valueSet")
        found[definition["url"]] = ExtensionDefinition(definition["url"], value_types, value_set, slices, min_sub)
    return found


def iter_extensions(node: Any, where: str = "") -> Iterator[tuple[str, Json]]:
    """Every extension object in a resource tree, with a path naming where it sits."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("extension", "modifierExtension") and isinstance(value, list):
                for position, ext in enumerate(value):
                    yield f"{where}.{key}[{position}]", ext
            yield from iter_extensions(value, f"{where}.{key}")
    elif isinstance(node, list):
        for position, value in enumerate(node):
            yield from iter_extensions(value, f"{where}[{position}]")


def check_extension(ext: Json, definition: ExtensionDefinition, where: str) -> list[str]:
    errors = []
    subs = ext.get("extension", [])
    if definition.value_types:
        errors += _check_value(ext, definition.value_types, definition.value_set, where)
    if len(subs) < definition.min_sub:
        errors.append(f"{where}: {len(subs)} sub-extensions, at least {definition.min_sub} required")
    by_url = {s.url: s for s in definition.slices.values()}
    for sub in subs:
        if sub["url"] not in by_url:
            errors.append(f"{where}: sub-extension {sub['url']!r} is not defined by {definition.url}")
        elif by_url[sub["url"]].value_types:
            errors += _check_value(
                sub, by_url[sub["url"]].value_types, by_url[sub["url"]].value_set, f"{where}/{sub['url']}"
            )
    for current in definition.slices.values():
        count = sum(1 for sub in subs if sub["url"] == current.url)
        if count < current.min or (current.max != "*" and count > int(current.max)):
            errors.append(f"{where}: {count} × {current.url}, expected {current.min}..{current.max}")
    return errors


def _check_value(ext: Json, types: list[str], value_set: str | None, where: str) -> list[str]:
    keys = [key for key in ext if key.startswith("value")]
    expected = {f"value{t[0].upper()}{t[1:]}" for t in types}
    if len(keys) != 1 or keys[0] not in expected:
        return [f"{where}: value {keys} is not one of {sorted(expected)}"]
    if value_set is None or keys[0] != "valueCodeableConcept":
        return []
    value_set_name = value_set.split("/NOS/")[1].split("/")[0]  # JDV_J188-TypeStatutCapacite-ROR
    wanted = value_set_name.split("-", 1)[1].removesuffix("-ROR")
    errors = []
    for coding in ext["valueCodeableConcept"]["coding"]:
        table_id = codes.table_for_system(coding["system"])
        if table_id is None or codes.table(table_id).name.split("-", 1)[1] != wanted:
            errors.append(f"{where}: system {coding['system']} is not the NOS table behind {value_set_name}")
        elif coding["code"] not in codes.table(table_id).current_codes():
            errors.append(f"{where}: code {coding['code']} is not current in {table_id}")
    return errors


def search_parameter_paths(fhir_dir: Path) -> dict[str, set[str]]:
    """Extension URL → the sub-extension names the IG's SearchParameters index under it."""
    found: dict[str, set[str]] = {}
    for path in sorted(fhir_dir.glob("SearchParameter-*.json")):
        expression = json.loads(path.read_text()).get("expression", "")
        for outer, inner in re.findall(r"url ?= ?'([^']+)'\)\.extension\.where\(url ?= ?'([^']+)'\)", expression):
            found.setdefault(outer, set()).add(inner)
    return found
