"""``rorsync simulate``: run the local ROR simulator until Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rorsync.cli.common import EXIT_CONFIG, fail

if TYPE_CHECKING:
    from rorsync.simulator.server import Simulator

SCALES = ("tiny", "small", "medium", "national")


@click.command()
@click.option(
    "--scale", type=click.Choice(SCALES), default="small", show_default=True, help="Size of the synthetic world."
)
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the deterministic generator.")
@click.option(
    "--world",
    "world_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="World file (default: a cache file per scale and seed, reused by later runs).",
)
@click.option("--fresh", is_flag=True, help="Regenerate the world file even if it exists.")
@click.option("--churn", type=float, default=0.0, show_default=True, help="About N changes of the world per minute.")
@click.option(
    "--late-commit-lag",
    type=float,
    default=0.0,
    show_default=True,
    help="Changes become visible up to this many seconds after their timestamp.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, help="Listening port: 8443 with --tls, 8080 without; 0 picks a free one.")
@click.option("--tls", is_flag=True, help="Serve HTTPS; profiles 1-5 authenticate with generated client certificates.")
@click.option(
    "--tls-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where the throw-away PKI is written (default: beside the world file).",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="KIND[:key=value,...]",
    help="A fault active from the start, e.g. status:status=503,count=5,path=/Location (repeatable).",
)
@click.option(
    "--token-lifetime", type=float, default=300.0, show_default=True, help="Access token lifetime in seconds."
)
@click.option("--result-cap", type=int, default=10_000, show_default=True, help="Most results a search can reach.")
@click.option(
    "--export-file-size",
    type=int,
    default=1_000,
    show_default=True,
    help="Most resources per $export file (HAPI default).",
)
@click.option("--client-secret", help="Use this secret for every client instead of random ones.")
@click.option(
    "--csd-path", default="/ROR/0.1/CSD_ROR_Binding", show_default=True, help="Path of the CSD SOAP 1.2 endpoint."
)
@click.option(
    "--csd-quirk",
    "csd_quirks",
    multiple=True,
    type=click.Choice(("trailing-space-oids", "naive-datetimes")),
    help="Reproduce a quirk of the ANS mock in CSD answers (repeatable).",
)
@click.option(
    "--extraction-part-size",
    type=int,
    default=103_000_000,
    show_default=True,
    help="Largest XML part of a TR-Extraction ZIP, in bytes.",
)
def simulate(**options: object) -> None:
    """Serve a local ROR (FHIR MEV3.0, CSD MEV2.4, extraction) over synthetic data, with faults on demand."""
    from rorsync.simulator.cli_runner import build_simulator  # noqa: PLC0415 - keeps `rorsync --help` fast

    simulator = build_simulator(options)
    try:
        asyncio.run(_serve(simulator))
    except OSError as error:  # the port is taken, the world file cannot be written...
        fail(f"simulate: {error.strerror or error}", EXIT_CONFIG)


async def _serve(simulator: Simulator) -> None:
    from rorsync.simulator.cli_runner import describe  # noqa: PLC0415 - keeps `rorsync --help` fast

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    click.echo("Preparing the world (the national scale takes minutes the first time)...", err=True)
    async with simulator:
        click.echo(describe(simulator))
        await stop.wait()
    click.echo("Stopped.", err=True)
