"""What ``rorsync simulate`` needs beyond argument parsing: a Simulator from options, and its banner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rorsync.simulator.csd.nodes import Quirks
from rorsync.simulator.csd.service import CsdSettings
from rorsync.simulator.faults import Fault
from rorsync.simulator.fhir.service import FhirSettings
from rorsync.simulator.server import Simulator
from rorsync.simulator.world.files import default_world_path


def build_simulator(options: dict[str, Any]) -> Simulator:
    """A Simulator configured from the command-line options (bad fault specs raise ``click.BadParameter``)."""
    try:
        faults = [Fault.parse(text) for text in options["faults"]]
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--fault") from error
    world_path: Path = options["world_path"] or default_world_path(options["scale"], options["seed"])
    secret = options["client_secret"]
    settings = FhirSettings(
        token_lifetime=options["token_lifetime"],
        result_cap=options["result_cap"],
        export_file_max_resources=options["export_file_size"],
    )
    csd = CsdSettings(
        path=options["csd_path"],
        quirks=Quirks.parse(options["csd_quirks"]),
        extraction_part_bytes=options["extraction_part_size"],
    )
    return Simulator(
        scale=options["scale"],
        seed=options["seed"],
        world_path=world_path,
        fresh_world=options["fresh"],
        host=options["host"],
        port=options["port"] if options["port"] is not None else (8443 if options["tls"] else 8080),
        settings=settings,
        csd=csd,
        client_secrets=dict.fromkeys(range(6), secret) if secret else {},
        churn_per_minute=options["churn"],
        late_commit_lag=options["late_commit_lag"],
        faults=faults,
        tls=options["tls"],
        tls_dir=options["tls_dir"] or world_path.parent / "tls",
    )


def describe(simulator: Simulator) -> str:
    """URLs and credentials to use, as printed when the simulator starts."""
    lines = [
        f"ROR simulator ({simulator.options.scale}, seed {simulator.options.seed}):"
        f" {simulator.world.count()} resources",
        f"  world file      {simulator.world.path}",
        f"  FHIR base       {simulator.fhir_base_url}",
        f"  token endpoint  {simulator.token_url}",
        f"  CSD endpoint    {_csd_endpoint(simulator)}",
        f"  extraction      {simulator.extraction_url(0)[:-1]}{{0,1,2,3}}",
        f"  control         {simulator.origin}/_control/faults  (POST/GET/DELETE; loopback only)",
        f"                  {simulator.origin}/_control/changes?count=N[&kind=K]",
    ]
    if simulator.pki is not None:
        lines.append(f"  CA certificate  {simulator.pki.ca}")
    lines.append("  clients (grant_type=client_credentials):")
    for profile in range(6):
        credentials = simulator.credentials(profile)
        if credentials.certificate is not None:
            how = f"certificate {credentials.certificate} key {credentials.private_key}"
        else:
            how = f"secret {credentials.client_secret}"
        lines.append(f"    profile {profile}  {credentials.client_id}  {how}")
    headers = simulator.credentials(1).headers
    lines.append("  every API call also needs the Ror-* headers, e.g. for profile 1:")
    lines += [f"    {name}: {value}" for name, value in headers.items()]
    lines.append("Ctrl-C to stop.")
    return "\n".join(lines)


def _csd_endpoint(simulator: Simulator) -> str:
    if simulator.options.tls:
        return f"{simulator.csd_endpoint_url()}  (SOAP 1.2; profile from the client certificate, none = 0)"
    return f"{simulator.csd_endpoint_url(1)[:-1]}N  (SOAP 1.2; CSD profile N = 0-3, default 1)"
