"""``rorsync demo``: the local ROR, the daemon and a live summary of the mirror, until Ctrl-C."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import tempfile
from pathlib import Path

import click
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from rorsync.cli.common import run_async
from rorsync.demo import Demo, DemoOptions, Snapshot, running_demo
from rorsync.logs import configure_logging

REFRESH_SECONDS = 2.0
PLAIN_EVERY_SECONDS = 10.0  # without a terminal (CI, pipes), a text summary this often


@click.command()
@click.option("--scale", type=click.Choice(["tiny", "small", "medium"]), default="small", show_default=True)
@click.option("--churn", type=float, default=240.0, show_default=True, help="Changes a minute in the local ROR.")
@click.option("--duration", type=float, default=None, help="Stop after this many seconds (default: at Ctrl-C).")
def demo(scale: str, churn: float, duration: float | None) -> None:
    """Watch rorsync mirror a local ROR: initial load, then live changes and bed availability.

    Starts the built-in local ROR (synthetic data, changes every few seconds) and the sync daemon on
    a temporary SQLite database, then shows what the mirror holds, read through the per-profile
    views local applications use. Nothing leaves this machine; everything is removed at the end.
    """
    console = Console()
    with tempfile.TemporaryDirectory(prefix="rorsync-demo-") as state:
        options = DemoOptions(scale=scale, churn_per_minute=churn)
        code = run_async(_demo(options, Path(state), duration, console))
    sys.exit(code)


async def _demo(options: DemoOptions, state: Path, duration: float | None, console: Console) -> int:
    console.print(
        f"Starting the local ROR ({options.scale} synthetic world, {options.churn_per_minute:.0f} changes/min)…"
    )
    async with running_demo(options, state) as demo:
        configure_logging(demo.settings.logging)
        console.print(f"Local ROR on {demo.sim.origin}; mirror {demo.db.describe()}; health {demo.health_url}")
        console.print("Starting the daemon: initial load by $export, then deltas and capacity polling. Ctrl-C stops.")
        daemon = asyncio.create_task(demo.daemon.run())
        stop_at = None if duration is None else asyncio.get_running_loop().time() + duration
        if console.is_terminal:
            await _live(demo, daemon, stop_at, console)
        else:
            await _plain(demo, daemon, stop_at, console)
        demo.daemon.request_stop()
        code = await daemon
        console.print(render(await demo.snapshot()))
        console.print("Demo stopped; the temporary mirror is removed.")
        return code


async def _until(daemon: asyncio.Task[int], stop_at: float | None, seconds: float) -> bool:
    """Wait ``seconds``; False once the daemon ended or the duration is over."""
    await asyncio.wait([daemon], timeout=seconds)
    return not daemon.done() and (stop_at is None or asyncio.get_running_loop().time() < stop_at)


async def _live(demo: Demo, daemon: asyncio.Task[int], stop_at: float | None, console: Console) -> None:
    with Live(render(await demo.snapshot()), console=console, refresh_per_second=2) as live:
        while await _until(daemon, stop_at, REFRESH_SECONDS):
            live.update(render(await demo.snapshot()))


async def _plain(demo: Demo, daemon: asyncio.Task[int], stop_at: float | None, console: Console) -> None:
    while await _until(daemon, stop_at, PLAIN_EVERY_SECONDS):
        console.print(render(await demo.snapshot()))


def _ago(when: dt.datetime | None) -> str:
    if when is None:
        return "-"
    seconds = max(0, int((dt.datetime.now(dt.UTC) - when).total_seconds()))
    return f"{seconds}s ago" if seconds < 120 else f"{seconds // 60}m ago"


def render(snapshot: Snapshot) -> Group:
    status = snapshot.status
    counts = Table(title="mirror", title_justify="left", show_edge=False)
    for column in ("organizations", "offers", "locations", "practitioners", "roles", "capacity lines", "changes"):
        counts.add_column(column, justify="right")
    live = {entity: count.live for entity, count in status.counts.items()}
    counts.add_row(
        *(
            f"{live.get(entity, 0):,}"
            for entity in ("organization", "offer", "location", "practitioner", "practitioner_role")
        ),
        f"{status.capacity_lines:,}",
        f"{status.change_log_head or 0:,}",
    )
    runs = Table(title="last runs", title_justify="left", show_edge=False)
    for column in ("kind", "status", "started", "counts"):
        runs.add_column(column)
    for run in status.last_runs:
        summary = " ".join(f"{k}={v}" for k, v in run.counts.items() if not k.startswith(("received_", "purged_")))
        runs.add_row(run.kind, run.status, _ago(run.started_at), summary[:60])
    changes = Table(title="latest changes (p2_change_log)", title_justify="left", show_edge=False)
    for column in ("seq", "when", "what", "op", "name"):
        changes.add_column(column)
    for change in snapshot.changes:
        changes.add_row(str(change["seq"]), _ago(change["changed_at"]), change["entity"], change["op"], change["name"])
    beds = Table(title="beds available now (p2_capacity)", title_justify="left", show_edge=False)
    for column in ("location", "city", "region", "available", "gender", "updated"):
        beds.add_column(column)
    for bed in snapshot.beds:
        beds.add_row(
            bed["name"], bed["city"], bed["region"], str(bed["nb"]), bed["gender"] or "", _ago(bed["updated_at"])
        )
    return Group(Panel(Group(counts, runs)), changes, beds)
