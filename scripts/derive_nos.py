"""Derive the compact NOS code tables shipped inside the package.

Run by hand when ANS publishes a new NOS bundle:
    python scripts/derive_nos.py ../shared/ror/nos/2023-06-14_NOS-Fichiers_Publics.zip

It keeps only the nomenclatures the ROR model uses (codes, labels, OIDs, end-of-validity dates) and
adds the few codes the exposure-model documents cite that are newer than the bundle.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from pathlib import Path

from rorsync.codes.tabs import iter_tables

KEEP = re.compile(r"^(TRE_R2\d\d|TRE_R3\d\d|TRE_R(04|10|11|13|23|30|38|66|69|72|73|78|81)|TRE_G(07|09|15)|JDV_J\d+)$")
KEEP_JDV_SUFFIX = "-ROR"

# Codes cited by the FHIR exposure model (ME V3.0.1) that postdate the 2023-06-14 bundle.
SUPPLEMENT: dict[str, dict[str, str]] = {
    "TRE_R329": {"03": "Logement", "04": "Salle"},
    "TRE_R330": {"07": "Opérationnel", "08": "Installé constaté", "09": "Autorisé"},
    "TRE_R332": {"04": "Indéterminé"},
}
DEPRECATED_SINCE: dict[str, dict[str, str]] = {"TRE_R332": {"03": "20250828"}}


def main(bundle: Path, target: Path) -> None:
    tables: dict[str, dict[str, object]] = {}
    department_region: dict[str, str] = {}
    for table in iter_tables(bundle.read_bytes(), bundle.name):
        if table.name.startswith("ASS_X09"):
            department_region = dict(table.pairs)
            continue
        if not KEEP.match(table.table_id):
            continue
        if table.table_id.startswith("JDV") and not table.name.endswith(KEEP_JDV_SUFFIX):
            continue
        codes = [[c.code, c.label, c.valid_until] for c in table.codes]
        known = {c[0] for c in codes}
        for code, label in SUPPLEMENT.get(table.table_id, {}).items():
            if code not in known:
                codes.append([code, label, None])
        for code, until in DEPRECATED_SINCE.get(table.table_id, {}).items():
            for entry in codes:
                if entry[0] == code:
                    entry[2] = until
        tables[table.table_id] = {"name": table.name, "oid": table.oid, "codes": codes}
    payload = {"source": bundle.name, "tables": tables, "department_region": department_region}
    target.write_bytes(gzip.compress(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode(), 9, mtime=0))
    print(f"{target}: {len(tables)} tables, {target.stat().st_size} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).resolve().parent.parent / "rorsync" / "codes" / "nos.json.gz")
