"""CSD extraction parsing speed and memory: rorsync's streaming parser against plain lxml iterparse.

Builds a realistic extraction part (tens of MB, ``--mb``) by multiplying the ANS samples of
``../shared/ror/csd/samples`` (EG answers with equipment, an OI answer with a four-level hierarchy),
each copy with its own entityIDs and business keys, then measures in separate processes (so that each
peak RSS is its own):

* ``reference``: ``lxml.etree.iterparse`` over the same file, end events of the five top-level
  objects, each cleared with its previous siblings (the usual constant-memory idiom);
* ``rorsync``: ``iter_extraction_records`` consuming every record;
* ``rorsync zip``: the same part in a ZIP with its SHA-256 sidecar, verified then streamed.

Run: ``PYTHONPATH=. /work/venv/bin/python benchmarks/csd_parse.py [--mb 60]``.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import re
import resource
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from lxml import etree

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "ror" / "csd" / "samples"
TEMPLATES = (
    "EG_Conformite_date0_restriction0_Cas1",
    "EG_Conformite_date0_restriction0_Cas5",
    "OI_Conformite_Demandes_Cas1",
)
DIRECTORIES = ("organizationDirectory", "serviceDirectory", "facilityDirectory", "providerDirectory", "deviceDirectory")
CSD = "urn:ihe:iti:csd:2013"


def _template_items(stem: str) -> dict[str, list[bytes]]:
    root = etree.parse(str(SAMPLES / f"{stem}.xml")).getroot()
    query = root.find(f".//{{{CSD}}}queryResult")
    assert query is not None, stem
    return {
        directory: [etree.tostring(item) for item in query.find(f"{{{CSD}}}{directory}")]  # type: ignore[union-attr]
        for directory in DIRECTORIES
    }


def _copy(item: bytes, copy: int) -> bytes:
    """One more establishment: entityIDs and otherID codes made unique, references kept consistent."""
    item = re.sub(rb'entityID="([^"]*)"', lambda m: b'entityID="%d_%s"' % (copy, m.group(1)), item)
    return re.sub(rb'(otherID code=")([^"]*)"', lambda m: m.group(1) + m.group(2) + b"%06d" % copy + b'"', item)


def build_part(path: Path, megabytes: int) -> int:
    templates = [_template_items(stem) for stem in TEMPLATES]
    chunks: dict[str, list[bytes]] = {directory: [] for directory in DIRECTORIES}
    size = copies = 0
    while size < megabytes * 1_000_000:
        template = templates[copies % len(templates)]
        for directory in DIRECTORIES:
            for item in template[directory]:
                copied = _copy(item, copies)
                chunks[directory].append(copied)
                size += len(copied)
        copies += 1
    with path.open("wb") as out:
        out.write(b'<?xml version="1.0" encoding="UTF-8"?>\n<csd:CSD xmlns:csd="urn:ihe:iti:csd:2013">\n')
        for directory in DIRECTORIES:
            out.write(b"<csd:%s>\n" % directory.encode())
            out.writelines(chunks[directory])
            out.write(b"</csd:%s>\n" % directory.encode())
        out.write(b"</csd:CSD>\n")
    return copies


def run_reference(path: str) -> int:
    count = 0
    tags = [f"{{{CSD}}}{name}" for name in ("organization", "service", "facility", "provider", "device")]
    for _, element in etree.iterparse(path, events=("end",), tag=tags):
        parent = element.getparent()
        if parent is None or not str(parent.tag).endswith("Directory"):
            continue
        count += 1
        element.clear(keep_tail=False)
        while element.getprevious() is not None:
            del parent[0]
    return count


def run_rorsync(path: str) -> int:
    from rorsync.sources.csd.parse import iter_extraction_records  # noqa: PLC0415  # keeps the reference process lean

    return sum(1 for _ in iter_extraction_records(path))


def run_rorsync_zip(path: str) -> int:
    from rorsync.sources.csd.extraction import verify_extraction  # noqa: PLC0415  # keeps the reference process lean

    return sum(1 for _ in verify_extraction(path).iter_records())


Measurement = tuple[float, float, int, float]  # wall seconds, CPU seconds, items, peak RSS MB


def _measure(function: Callable[[str], int], path: str, queue: multiprocessing.Queue[Measurement]) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    count = function(path)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    queue.put((wall, cpu, count, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def measure(function: Callable[[str], int], path: Path) -> Measurement:
    """(wall s, CPU s, objects or records, peak RSS MB) of ``function(path)`` in a fresh process.

    CPU time is printed next to wall time: on a shared machine it is the steadier of the two.

    The parent stays small (the part is built in a child too): a child's peak RSS starts from its
    parent's, which ``fork`` and ``exec`` both keep.
    """
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[Measurement] = context.Queue()
    process = context.Process(target=_measure, args=(function, str(path), queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def _build(path: str, megabytes: int, queue: multiprocessing.Queue[int]) -> None:
    part = Path(path)
    copies = build_part(part, megabytes)
    archive = part.with_name("ExtractionOffresSante_Profil1_202401150830.zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.write(part, part.name)
        out.writestr(part.with_suffix(".txt").name, hashlib.sha256(part.read_bytes()).hexdigest())
    queue.put(copies)


def build_in_child(part: Path, megabytes: int) -> int:
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[int] = context.Queue()
    process = context.Process(target=_build, args=(str(part), megabytes, queue))
    process.start()
    copies = queue.get()
    process.join()
    return copies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=60, help="size of the generated part (default 60 MB)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        part = Path(directory) / "ExtractionOffresSante_1.xml"
        copies = build_in_child(part, arguments.mb)
        data_mb = part.stat().st_size / 1e6
        archive = part.with_name("ExtractionOffresSante_Profil1_202401150830.zip")
        print(f"part: {data_mb:.1f} MB, {copies} establishment copies; zip: {archive.stat().st_size / 1e6:.1f} MB")
        reference = measure(run_reference, part)
        results = {
            "reference (lxml iterparse)": reference,
            "rorsync iter_extraction_records": measure(run_rorsync, part),
            "rorsync zip (verify + stream)": measure(run_rorsync_zip, archive),
        }
        print(
            f"{'pass':34} {'wall s':>7} {'CPU s':>7} {'MB/s CPU':>9} {'items':>7} {'peak RSS MB':>12} {'CPU ratio':>10}"
        )
        for name, (wall, cpu, count, peak) in results.items():
            ratio = cpu / reference[1]
            print(f"{name:34} {wall:7.2f} {cpu:7.2f} {data_mb / cpu:9.1f} {count:7d} {peak:12.1f} {ratio:9.2f}x")


if __name__ == "__main__":
    main()
