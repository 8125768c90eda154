"""NOS code tables shipped with the package (derived by ``scripts/derive_nos.py``).

They give labels to the codes stored in the mirror without any import, and translate between the
three ways the ROR names a code system: the NOS table id (``TRE_R227``), its OID
(``1.2.250.1.213.3.3.17``, used by CSD) and its FHIR URL
(``https://mos.esante.gouv.fr/NOS/TRE_R227-ChampActivite/FHIR/TRE-R227-ChampActivite``).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from rorsync.codes.tabs import table_id_of

FHIR_NOS_PREFIX = "https://mos.esante.gouv.fr/NOS/"


@dataclass(frozen=True, slots=True)
class CodeTable:
    table_id: str
    name: str
    oid: str
    labels: dict[str, str]
    expired: frozenset[str]
    valid_until: dict[str, str] = field(default_factory=dict)  # end-of-validity dates of expired codes

    @property
    def fhir_system(self) -> str:
        return fhir_system_for_name(self.name)

    def current_codes(self) -> list[str]:
        """Codes still valid today, in published order (what a generator should draw from)."""
        return [code for code in self.labels if code not in self.expired]


@dataclass(frozen=True, slots=True)
class _Catalogue:
    tables: dict[str, CodeTable]
    by_oid: dict[str, str]
    department_region: dict[str, str]
    bundle: str


@cache
def _catalogue() -> _Catalogue:
    raw = json.loads(gzip.decompress(resources.files(__package__).joinpath("nos.json.gz").read_bytes()))
    tables: dict[str, CodeTable] = {}
    for table_id, entry in raw["tables"].items():
        labels = {code: label for code, label, _ in entry["codes"]}
        valid_until = {code: until for code, _, until in entry["codes"] if until}
        tables[table_id] = CodeTable(table_id, entry["name"], entry["oid"], labels, frozenset(valid_until), valid_until)
    by_oid = {table.oid: table_id for table_id, table in tables.items()}
    return _Catalogue(tables, by_oid, dict(raw["department_region"]), raw["source"])


def fhir_system_for_name(name: str) -> str:
    """``TRE_R227-ChampActivite`` → its FHIR code-system URL (the id part uses ``-`` instead of ``_``)."""
    table_id = table_id_of(name)
    return f"{FHIR_NOS_PREFIX}{name}/FHIR/{table_id.replace('_', '-')}{name[len(table_id) :]}"


def table(table_id: str) -> CodeTable:
    """The packaged table ``table_id``; raises ``KeyError`` naming it when it is not shipped."""
    try:
        return _catalogue().tables[table_id]
    except KeyError:
        raise KeyError(f"NOS table {table_id!r} is not shipped with rorsync") from None


def tables() -> list[CodeTable]:
    return list(_catalogue().tables.values())


def bundle() -> str:
    """File name of the published NOS bundle the packaged tables were derived from."""
    return _catalogue().bundle


def label(table_id: str, code: str | None) -> str | None:
    if code is None:
        return None
    found = _catalogue().tables.get(table_id)
    return found.labels.get(code) if found else None


def table_for_oid(oid: str) -> str | None:
    """Table id for a CSD ``codingScheme`` OID; tolerates the trailing spaces real files carry."""
    return _catalogue().by_oid.get(oid.strip().removeprefix("urn:oid:"))


def table_for_system(system: str) -> str | None:
    """Table id for a FHIR ``coding.system`` (NOS URL or ``urn:oid:``), ``None`` if not a NOS system."""
    system = system.strip()
    if system.startswith(FHIR_NOS_PREFIX):
        return table_id_of(system[len(FHIR_NOS_PREFIX) :].split("/", 1)[0])
    if system.startswith("urn:oid:"):
        return table_for_oid(system)
    return None


def region_of_department(department: str) -> str | None:
    """INSEE region (TRE_R30) of a department code (TRE_G09), e.g. ``"45"`` → ``"24"``."""
    return _catalogue().department_region.get(department)
