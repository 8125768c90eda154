"""The ``rorsync`` command line: a thin layer that parses arguments and calls the packages.

Each command lives in its own module of this package and is registered on :data:`main` below.
"""

from __future__ import annotations

from pathlib import Path

import click

from rorsync import __version__
from rorsync.cli.config_cmd import config as config_command
from rorsync.cli.db import db
from rorsync.cli.demo import demo
from rorsync.cli.export import export
from rorsync.cli.import_public import import_public_command
from rorsync.cli.nos import nos
from rorsync.cli.policy import policy
from rorsync.cli.resync import resync
from rorsync.cli.run import run
from rorsync.cli.simulate import simulate
from rorsync.cli.status import status
from rorsync.cli.sync import sync
from rorsync.config import DEFAULT_CONFIG_PATH
from rorsync.runtime import tune_for_bulk_loads


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="rorsync")
@click.option(
    "--config",
    "-c",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="RORSYNC_CONFIG",
    help=f"Configuration file (default {DEFAULT_CONFIG_PATH}, used if present).",
)
def main(config: Path | None) -> None:
    """Keep a faithful, policy-safe local mirror of the ROR (Répertoire Opérationnel des Ressources).

    Environment variables RORSYNC_<SECTION>__<KEY> override the file, e.g. RORSYNC_DATABASE__URL.
    """
    tune_for_bulk_loads()


for command in (
    demo,
    config_command,
    db,
    status,
    sync,
    run,
    resync,
    import_public_command,
    nos,
    policy,
    export,
    simulate,
):
    main.add_command(command)
