"""Benchmark of the FHIR export parser against plain ``orjson.loads`` of the same file.

Builds an export-like Bundle of ROR resources shaped as the IG examples (fhir-mev3.md §13): offers
with their contact, week-long opening hours and patient type; Locations with five capacity
indicators; EJ/EG/OI organisations with contacts; practitioners and their roles, in the proportions
of a national export. Then measures, each in a fresh process so that peak RSS is its own:

* ``orjson.loads``           the floor: parse the file, nothing else;
* ``reference``              the issue's reference pipeline: orjson.loads, then one ``executemany``
                             of (type, id, lastUpdated, payload) into one SQLite table;
* ``orjson.loads (GC off)``  the same with the cyclic GC disabled, to show what GC costs on a
                             document held whole in memory;
* ``iter_export_records``    rorsync: read + map every resource to a Record, the file read at once
                             whatever its size;
* ``iter_export_records (streamed)``  the same with the streaming reader forced (ijson, C backend).

Run: ``PYTHONPATH=. /work/venv/bin/python benchmarks/fhir_parse.py [--resources 40000]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from rorsync import codes
from rorsync.sources.fhir import profile
from rorsync.sources.fhir.parse import iter_export_records

MODES = (
    "orjson.loads",
    "orjson.loads (GC off)",
    "reference",
    "iter_export_records",
    "iter_export_records (streamed)",
)
AS = "https://apifhir.annuaire.sante.fr/ws-sync/exposed/structuredefinition/"


def concept(table: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": codes.table(table).fhir_system, "code": code}
    if display is not None:
        coding["display"] = display
    return {"coding": [coding]}


def coded(url: str, table: str, code: str) -> dict[str, Any]:
    return {"url": url, "valueCodeableConcept": concept(table, code)}


class World:
    """Draws realistic values; seeded so that every run measures the same file."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.regions = ["11", "24", "52", "84", "93", "06", "76", "44"]
        self.communes = codes.table("TRE_R13").current_codes()[:5000]
        self.activities = codes.table("TRE_R211").current_codes()
        self.categories = codes.table("TRE_R66").current_codes()

    def meta(self, region: str) -> dict[str, Any]:
        stamp = f"2025-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}T{self.rng.randint(0, 23):02d}:"
        stamp += f"{self.rng.randint(0, 59):02d}:{self.rng.randint(0, 59):02d}.{self.rng.randint(0, 999):03d}+01:00"
        return {"lastUpdated": stamp, "tag": [{"system": profile.REGION_TAG_SYSTEM, "code": region}]}

    def telecom(self, system: str, level: str) -> dict[str, Any]:
        value = (
            f"0{self.rng.randint(100000000, 999999999)}"
            if system == "phone"
            else f"u{self.rng.randint(1, 10**6)}@x.mssante.fr"
        )
        return {
            "extension": [
                coded(profile.EXT_TELECOM_CHANNEL, "TRE_R200", "2" if system == "phone" else "3"),
                coded(profile.EXT_TELECOM_CONFIDENTIALITY, "TRE_R283", level),
            ],
            "system": system,
            "value": value,
        }

    def address(self) -> dict[str, Any]:
        commune = self.rng.choice(self.communes)
        return {
            "line": [f"{self.rng.randint(1, 200)} rue du général Leclerc"],
            "city": codes.label("TRE_R13", commune),
            "postalCode": commune[:2] + "000",
        }

    def organization(self, rid: str, kind: str, parent: str | None) -> dict[str, Any]:
        region = self.rng.choice(self.regions)
        number = str(self.rng.randint(10**8, 10**9 - 1))
        resource: dict[str, Any] = {
            "resourceType": "Organization",
            "id": rid,
            "meta": self.meta(region),
            "extension": [{"url": profile.EXT_CREATION_DATE, "valueDateTime": "2019-03-01T00:00:00+01:00"}],
            "name": f"Quiétude {rid}",
            "address": [self.address()],
            "contact": [
                {
                    "extension": [coded(profile.EXT_CONTACT_CONFIDENTIALITY, "TRE_R283", "1")],
                    "purpose": concept("TRE_R287", "06"),
                    "telecom": [self.telecom("phone", "1")],
                }
            ],
        }
        if kind == "EJ":
            resource["identifier"] = [
                {"type": concept("TRE_G07", "2"), "system": profile.SYSTEM_SIRENE, "value": number},
                {"type": concept("TRE_G07", "40"), "system": profile.SYSTEM_ID_NAT_STRUCT, "value": "2" + number},
            ]
            resource["type"] = [concept("TRE_R72", "72"), concept("TRE_R69", "2200")]
        elif kind == "EG":
            resource["identifier"] = [
                {"type": concept("TRE_G07", "40"), "system": profile.SYSTEM_ID_NAT_STRUCT, "value": "1" + number},
                {"type": concept("TRE_G07", "1"), "system": profile.SYSTEM_FINESS, "value": number},
            ]
            resource["type"] = [concept("TRE_R66", self.rng.choice(self.categories))]
        else:
            resource["identifier"] = [{"system": profile.SYSTEM_OI, "value": f"{region}/{number}"}]
            resource["type"] = [concept("TRE_R207", "2")]
        if parent is not None:
            resource["partOf"] = {"reference": f"Organization/{parent}"}
        return resource

    def location(self, rid: str, organization: str) -> dict[str, Any]:
        region = self.rng.choice(self.regions)
        capacities = []
        for status, gender in (("01", None), ("06", None), ("02", "02"), ("02", "01"), ("02", "04")):
            sub = [
                coded("capacityType", "TRE_R329", "01"),
                coded("capacityStatus", "TRE_R330", status),
                coded("temporalityCapacity", "TRE_R331", "01"),
                {"url": "nbCapacity", "valueInteger": self.rng.randint(0, 40)},
                coded("capacitySourceType", "TRE_R335", "01"),
                {"url": "capacityUpdateDate", "valueDateTime": "2024-07-08T18:15:39Z"},
                coded("temporaryAssignement", "TRE_R337", "01"),
            ]
            if gender:
                sub.append(coded("genderCapacityAvailable", "TRE_R332", gender))
            if status == "06":
                sub += [coded("additionalBedType", "TRE_R334", "03"), coded("crisisType", "TRE_R336", "02")]
            capacities.append({"url": profile.EXT_LOC_SUPPORTED_CAPACITY, "extension": sub})
        return {
            "resourceType": "Location",
            "id": rid,
            "meta": self.meta(region),
            "extension": [
                coded(profile.EXT_LOC_COMMUNE_COG, "TRE_R13", self.rng.choice(self.communes)),
                {"url": profile.EXT_CREATION_DATE, "valueDateTime": "2022-01-01T00:00:00Z"},
                *capacities,
            ],
            "identifier": [
                {"type": {"coding": [{"system": profile.ID_TYPE_R354, "code": "25"}]}, "value": f"{region}/{rid}"}
            ],
            "status": "active",
            "operationalStatus": {"code": "OP"},
            "name": "UNITE DE SURVEILLANCE CONTINUE CHIR",
            "type": [{"coding": [{"system": codes.fhir_system_for_name("TRE_R343-FonctionLieu"), "code": "001"}]}],
            "telecom": [self.telecom("phone", "2")],
            "address": self.address(),
            "position": {"latitude": 47 + self.rng.random(), "longitude": 1 + self.rng.random()},
            "managingOrganization": {"reference": f"Organization/{organization}"},
        }

    def offer(self, rid: str, organization: str, location: str) -> dict[str, Any]:
        region = self.rng.choice(self.regions)
        hours = [
            {
                "extension": [
                    {"url": profile.EXT_AVAILABLE_TIME_DAYS, "valueInteger": day},
                    coded(profile.EXT_AVAILABLE_TIME_TYPE, "TRE_R252", "02"),
                ],
                "availableStartTime": "00:00:00",
                "availableEndTime": "23:59:00",
            }
            for day in range(1, 8)
        ]
        return {
            "resourceType": "HealthcareService",
            "id": rid,
            "meta": self.meta(region),
            "extension": [
                {
                    "url": profile.EXT_TEMPLATE,
                    "valueCanonical": "https://interop.esante.gouv.fr/ig/fhir/ror/Questionnaire/MS-141|1",
                },
                {"url": profile.EXT_CREATION_DATE, "valueDateTime": "2024-09-12T08:30:00+02:00"},
                {"url": profile.EXT_HS_SENSITIVE_UNIT, "valueBoolean": self.rng.random() < 0.03},
                {
                    "url": profile.EXT_HS_PATIENT_TYPE,
                    "extension": [
                        {
                            "url": "ageRange",
                            "valueRange": {"low": {"value": 15, "code": "a"}, "high": {"value": 150, "code": "a"}},
                        }
                    ],
                },
                {
                    "url": profile.EXT_HS_CONTACT,
                    "extension": [
                        coded("purposeContact", "TRE_R287", "06"),
                        coded(profile.EXT_CONFIDENTIALITY, "TRE_R283", "1"),
                        {
                            "url": profile.EXT_HS_CONTACT_TELECOM,
                            "extension": [
                                coded(profile.EXT_TELECOM_CHANNEL, "TRE_R200", "2"),
                                coded(profile.EXT_TELECOM_CONFIDENTIALITY, "TRE_R283", "1"),
                                {"url": "telecomAddress", "valueString": f"0{self.rng.randint(10**8, 10**9 - 1)}"},
                            ],
                        },
                    ],
                },
            ],
            "identifier": [
                {"type": {"coding": [{"system": profile.ID_TYPE_R355, "code": "35"}]}, "value": f"{region}/{rid}"}
            ],
            "providedBy": {"reference": f"Organization/{organization}"},
            "category": [concept("TRE_R244", "11")],
            "type": [concept("TRE_R227", self.rng.choice(["01", "02", "03", "04"]))],
            "specialty": [concept("TRE_R211", self.rng.choice(self.activities))],
            "location": [{"reference": f"Location/{location}"}],
            "name": f"{rid}  Chirurgie gynécologique - HOSPITALISATION COMPLETE",
            "characteristic": [concept("TRE_R213", "09"), concept("TRE_R238", "02"), concept("TRE_R240", "02")],
            "availableTime": hours,
        }

    def practitioner(self, rid: str) -> dict[str, Any]:
        return {
            "resourceType": "Practitioner",
            "id": rid,
            "meta": self.meta(self.rng.choice(self.regions)),
            "identifier": [{"system": profile.SYSTEM_IDNAT_PS, "value": f"1{self.rng.randint(10**9, 10**10 - 1)}"}],
            "name": [{"family": "DUPONT", "given": ["Marie"], "prefix": ["MME"]}],
            "telecom": [self.telecom("email", "2")],
        }

    def role(self, rid: str, practitioner: str, offer: str) -> dict[str, Any]:
        return {
            "resourceType": "PractitionerRole",
            "id": rid,
            "meta": self.meta(self.rng.choice(self.regions)),
            "extension": [
                coded(profile.EXT_ROLE_EXERCISE_MODE, "TRE_R23", "L"),
                {"url": AS + "practitionerRole-vitaleAccepted", "valueBoolean": True},
            ],
            "identifier": [{"value": str(self.rng.randint(10**10, 10**11 - 1))}],
            "practitioner": {"reference": f"Practitioner/{practitioner}"},
            "healthcareService": [{"reference": f"HealthcareService/{offer}"}],
            "code": [concept("TRE_G15", "60")],
            "specialty": [concept("TRE_R04", "S")],
        }


def build_export(count: int, seed: int = 20250408) -> bytes:
    """About 40 % offers, 35 % Locations, 15 % organisations, 5 % practitioners, 5 % roles."""
    world = World(seed)
    resources: list[dict[str, Any]] = []
    unit = 0
    while len(resources) < count:
        unit += 1
        ej, eg = f"ej{unit}", f"eg{unit}"
        resources += [world.organization(ej, "EJ", None), world.organization(eg, "EG", ej)]
        for service in range(8):
            oi, loc, hs = f"oi{unit}-{service}", f"loc{unit}-{service}", f"hs{unit}-{service}"
            if service < 1:
                resources.append(world.organization(oi, "OI", eg))
            resources += [world.offer(hs, eg, loc), world.location(loc, eg)]
            if service < 1:
                resources.append(world.offer(f"{hs}b", eg, loc))
        resources += [world.practitioner(f"ps{unit}"), world.role(f"pr{unit}", f"ps{unit}", f"hs{unit}-0")]
        resources += [world.practitioner(f"ps{unit}b"), world.role(f"pr{unit}b", f"ps{unit}b", f"hs{unit}-1")]
    entries = [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in resources[:count]]
    return orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries})


def run_mode(mode: str, path: Path) -> dict[str, float]:
    """One measurement in this process; returns seconds and resource count."""
    started = time.perf_counter()
    if mode.startswith("orjson.loads"):
        if mode.endswith("(GC off)"):
            gc.disable()
        count = len(orjson.loads(path.read_bytes())["entry"])
    elif mode == "reference":
        bundle = orjson.loads(path.read_bytes())
        with sqlite3.connect(path.with_suffix(".sqlite")) as db:
            db.execute("CREATE TABLE IF NOT EXISTS resource (type TEXT, id TEXT, last_updated TEXT, payload BLOB)")
            db.executemany(
                "INSERT INTO resource VALUES (?, ?, ?, ?)",
                (
                    (r["resourceType"], r["id"], r["meta"]["lastUpdated"], orjson.dumps(r))
                    for r in (e["resource"] for e in bundle["entry"])
                ),
            )
            count = len(bundle["entry"])
        path.with_suffix(".sqlite").unlink()
    else:
        threshold = 0 if mode.endswith("(streamed)") else 1 << 40
        count = 0
        for item in iter_export_records(path, stream_threshold=threshold):
            if isinstance(item, Exception):
                raise item
            count += 1
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "count": count, "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode; the best is reported")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_mode(args.child[0], Path(args.child[1]))))
        return
    if args.build:
        args.build.write_bytes(build_export(args.resources))
        return

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.json"
        # Built in a child too: Linux carries a parent's peak RSS over fork+exec into its children.
        subprocess.run([sys.executable, __file__, "--resources", str(args.resources), "--build", str(path)], check=True)
        megabytes = path.stat().st_size / 1e6
        per_resource = path.stat().st_size / args.resources
        print(f"file: {args.resources} resources, {megabytes:.1f} MB ({per_resource:.0f} B/resource)")
        results: dict[str, dict[str, float]] = {}
        for mode in MODES:
            runs = [
                json.loads(
                    subprocess.run(
                        [sys.executable, __file__, "--child", mode, str(path)],
                        check=True,
                        capture_output=True,
                        text=True,
                    ).stdout
                )
                for _ in range(args.repeat)
            ]
            results[mode] = min(runs, key=lambda run: run["seconds"])
        floor = results["orjson.loads"]["seconds"]
        print(f"{'mode':34} {'seconds':>8} {'resources/s':>12} {'MB/s':>7} {'× loads':>8} {'peak RSS MB':>12}")
        for mode, run in results.items():
            assert run["count"] == args.resources, (mode, run["count"])
            print(
                f"{mode:34} {run['seconds']:8.3f} {args.resources / run['seconds']:12,.0f} "
                f"{megabytes / run['seconds']:7.1f} {run['seconds'] / floor:8.2f} {run['max_rss_mb']:12.0f}"
            )
        reference = results["reference"]["seconds"]
        for mode in MODES[3:]:
            print(f"{mode} / reference pipeline: {results[mode]['seconds'] / reference:.2f}")


if __name__ == "__main__":
    main()
