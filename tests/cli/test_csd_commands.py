"""``rorsync sync --source csd`` and ``rorsync import-public`` as an operator runs them (subprocesses, local ROR)."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson

from rorsync.simulator.server import Simulator
from tests.cli.test_sync_command import rorsync, sim  # noqa: F401 - fixture
from tests.simulator.conftest import tiny_world_file, world_copy  # noqa: F401 - fixtures


def csd_config(tmp_path: Path, sim: Simulator) -> Path:  # noqa: F811 - fixture use
    path = tmp_path / "rorsync.toml"
    path.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        f'[csd]\nenabled = true\nprofile = 1\nendpoint = "{sim.csd_endpoint_url(1)}"\n'
        f'extraction_url = "{sim.extraction_url(1)}"\n'
        '[csd.http]\nmax_attempts = 2\nbackoff_initial = "10ms"\n'
        f'[public_xml]\nsource = "{sim.extraction_url(0)}"\n'
    )
    return path


async def test_csd_sync_loads_then_polls_and_a_refused_establishment_exits_4(
    sim: Simulator,  # noqa: F811 - fixture use
    tmp_path: Path,
) -> None:
    path = str(csd_config(tmp_path, sim))
    assert (await rorsync(sim, "-c", path, "db", "upgrade"))[0] == 0
    code, output = await rorsync(sim, "-c", path, "sync", "--source", "csd")
    assert code == 0, output
    assert "csd extraction" in output
    sim.apply_changes(5, "update")
    sim.faults.inject(kind="csd_error", match="TR_Lecture")
    code, output = await rorsync(sim, "-c", path, "sync", "--source", "csd")
    assert code == 4, output
    assert "some objects failed" in output and "Traceback" not in output
    sim.faults.clear()
    code, output = await rorsync(sim, "-c", path, "status", "--json")
    assert code == 0 and '"kind": "delta"' in output and '"status": "partial"' in output and "444" in output
    sources = orjson.loads(output)["sources"]
    assert sources["csd"]["state"] == "ok" and sources["csd"]["lag_seconds"] is not None  # as /healthz sees it


async def test_import_public_from_the_configured_url_a_file_and_a_bad_file(
    sim: Simulator,  # noqa: F811 - fixture use
    tmp_path: Path,
) -> None:
    path = str(csd_config(tmp_path, sim))
    assert (await rorsync(sim, "-c", path, "db", "upgrade"))[0] == 0
    code, output = await rorsync(sim, "-c", path, "import-public")  # public_xml.source
    assert code == 0, output
    built = sim.extractions.build(0)
    copy = tmp_path / built.filename
    shutil.copyfile(built.path, copy)
    assert (await rorsync(sim, "-c", path, "import-public", str(copy)))[0] == 0
    broken = tmp_path / "broken.zip"
    broken.write_bytes(copy.read_bytes()[:1000])
    code, output = await rorsync(sim, "-c", path, "import-public", str(broken))
    assert code == 1 and "import of" in output and "unreadable ZIP" in output and "Traceback" not in output
    code, output = await rorsync(sim, "-c", path, "import-public", str(tmp_path / "missing.zip"))
    assert code == 1 and "no such file" in output
    code, output = await rorsync(sim, "-c", path, "status", "--json")
    assert code == 0 and '"public_xml"' in output
