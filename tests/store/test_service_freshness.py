"""The freshness the health endpoint and gauges read, on SQLite and PostgreSQL."""

from __future__ import annotations

from rorsync.model import Source
from rorsync.service.health import read_freshness
from rorsync.store.engine import Database
from rorsync.sync.runs import journaled_run
from rorsync.sync.writer import BatchWriter
from tests import factories as f


async def test_freshness_reads_last_successes_cursor_times_and_newest_capacity_per_source(database: Database) -> None:
    async with journaled_run(database, Source.FHIR, "delta") as run:
        writer = BatchWriter(database, Source.FHIR, batch_size=10, run_id=run.id)
        for minute, name in ((1, "a"), (7, "b"), (3, "c")):
            beds = f.capacity("01", minute, updated_at=f.at(minute))  # type: ignore[arg-type]
            await writer.add(f.location(name, f.at(minute), capacities=[beds]))
        await writer.flush(cursors={"delta:Location": f.at(7).isoformat(), "export": "https://ror/manifest/1"})
    freshness = await read_freshness(database, ["fhir", "csd"])
    assert freshness.capacity_newest == {"fhir": f.at(7)}  # csd has no capacity: absent, not an error
    assert freshness.newest_cursor("fhir") == f.at(7)  # markers that are not instants are ignored
    assert freshness.newest_success("fhir") is not None and freshness.newest_success("csd") is None
