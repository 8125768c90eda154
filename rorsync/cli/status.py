"""``rorsync status``: schema version, cursors, last runs and row counts, from the database alone."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import click
import orjson
from rich.console import Console
from rich.table import Table

from rorsync.cli.common import EXIT_SCHEMA, run_async, settings_of, with_database
from rorsync.config import Settings
from rorsync.service.health import cursor_time
from rorsync.store.engine import Database
from rorsync.store.instances import DAEMON
from rorsync.store.status import MirrorStatus, collect_status


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Show what the mirror holds and how fresh it is."""
    settings = settings_of(ctx)
    report = run_async(_collect(settings))
    sources = source_states(report, settings.service.stale_after, dt.datetime.now(dt.UTC))
    if as_json:
        document = {**dataclasses.asdict(report), "sources": sources}
        click.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
    else:
        _render(report, sources)
    if not report.schema_current:
        ctx.exit(EXIT_SCHEMA)


@with_database
async def _collect(db: Database, settings: Settings) -> MirrorStatus:
    return await collect_status(db)


def source_states(report: MirrorStatus, stale_after: dt.timedelta, now: dt.datetime) -> dict[str, dict[str, Any]]:
    """Per source, what ``/healthz`` says from the database: last success, lag, and a verdict
    (``stale`` once no run has succeeded for ``service.stale_after``)."""
    sources = {run.source for run in report.last_runs} | {cursor.source for cursor in report.cursors}
    states: dict[str, dict[str, Any]] = {}
    for source in sorted(sources):
        success = report.last_success.get(source)
        moments = [t for c in report.cursors if c.source == source and (t := cursor_time(c)) is not None]
        lag = (now - max(moments)).total_seconds() if moments else None
        state = "starting" if success is None else "stale" if now - success > stale_after else "ok"
        states[source] = {"state": state, "last_success": success, "lag_seconds": lag}
    return states


def _when(value: dt.datetime | None) -> str:
    if value is None:
        return "-"
    age = dt.datetime.now(dt.UTC) - value
    return f"{value:%Y-%m-%d %H:%M:%S}Z ({_age(age)} ago)"


def _age(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False)
    for column in columns:
        table.add_column(column)
    return table


def _render(report: MirrorStatus, sources: dict[str, dict[str, Any]]) -> None:
    console = Console()
    state = "current" if report.schema_current else f"needs `rorsync db upgrade` (head {report.schema_head})"
    console.print(f"database: {report.database}")
    console.print(f"schema:   {report.schema_revision or 'none'} — {state}")
    if not report.schema_current:
        return
    console.print(f"daemon:   {_daemon(report)}")
    if report.requests:
        console.print("resync requests: " + ", ".join(f"{n} {state}" for state, n in report.requests.items()))
    counts = _table("rows", "entity", "live", "tombstoned")
    for entity, count in report.counts.items():
        counts.add_row(entity, str(count.live), str(count.tombstoned))
    counts.add_row("capacity lines", str(report.capacity_lines), "")
    console.print(counts)
    cursors = _table("cursors", "source", "stream", "value", "moved")
    for cursor in report.cursors:
        cursors.add_row(cursor.source, cursor.stream, cursor.value, _when(cursor.updated_at))
    console.print(cursors if report.cursors else "cursors: none yet")
    health = _table("sources", "source", "state", "last success", "lag")
    for source, verdict in sources.items():
        lag = verdict["lag_seconds"]
        health.add_row(
            source,
            verdict["state"],
            _when(verdict["last_success"]),
            "-" if lag is None else _age(dt.timedelta(seconds=lag)),
        )
    if sources:
        console.print(health)
    runs = _table("last runs", "source", "kind", "status", "started", "counts", "error")
    for run in report.last_runs:
        runs.add_row(run.source, run.kind, run.status, _when(run.started_at), _counts(run.counts), run.error or "")
    console.print(runs if report.last_runs else "runs: none yet")
    console.print(f"change log head: {report.change_log_head or 0}    quarantined objects: {report.quarantined}")


def _daemon(report: MirrorStatus) -> str:
    """Whether a daemon keeps this database current, from the heartbeats it writes."""
    now = dt.datetime.now(dt.UTC)
    alive = [p for p in report.processes if p.role == DAEMON and p.alive(now)]
    if not alive:
        return "not running (no fresh heartbeat)"
    return "; ".join(
        f"running: {p.instance}, version {p.version}, up {_age(now - p.started_at)}, "
        f"heartbeat {_age(now - p.beat_at)} ago"
        for p in alive
    )


def _counts(counts: dict[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in counts.items())
