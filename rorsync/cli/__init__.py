"""The ``rorsync`` command line: a thin layer that parses arguments and calls the packages.

Each command lives in its own module of this package and is registered on :data:`main` below.
"""

from __future__ import annotations

import click

from rorsync import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="rorsync")
def main() -> None:
    """Keep a faithful, policy-safe local mirror of the ROR (Répertoire Opérationnel des Ressources)."""


from rorsync.cli.simulate import simulate  # noqa: E402 - commands import their packages lazily

main.add_command(simulate)
