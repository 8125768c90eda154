"""Throw-away PKI and TLS contexts for ``rorsync simulate --tls``: mutual TLS exercised for real.

trustme generates a CA, a server certificate for 127.0.0.1/localhost, one client certificate per
profile 1–5 (subject CN = the client id, as the ROR team would register its DN) and, for the TLS
faults, a second "rogue" CA with its own server certificate. Files are written once with plain names
(``ca.pem``, ``server.pem``, ``client-p1.pem`` / ``client-p1.key`` …) and reused on later runs.

The server asks for a client certificate but does not require it at the handshake (profile 0 has
none): the token endpoint checks it for profiles ≥ 1. TLS faults swap the context per handshake.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme

from rorsync.simulator.faults import FaultInjector, FaultKind
from rorsync.simulator.fhir.auth import client_id

CERTIFIED_PROFILES = (1, 2, 3, 4, 5)
ORGANIZATION = "rorsync simulator"


@dataclass(frozen=True, slots=True)
class Pki:
    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def server_certificate(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server.key"

    def client_certificate(self, profile: int) -> Path:
        return self.directory / f"client-p{profile}.pem"

    def client_key(self, profile: int) -> Path:
        return self.directory / f"client-p{profile}.key"

    @property
    def rogue_ca(self) -> Path:
        return self.directory / "rogue-ca.pem"

    @property
    def rogue_server_certificate(self) -> Path:
        return self.directory / "rogue-server.pem"

    @property
    def rogue_server_key(self) -> Path:
        return self.directory / "rogue-server.key"

    def files(self) -> list[Path]:
        found = [self.ca, self.server_certificate, self.server_key, self.rogue_ca]
        found += [self.rogue_server_certificate, self.rogue_server_key]
        for profile in CERTIFIED_PROFILES:
            found += [self.client_certificate(profile), self.client_key(profile)]
        return found


def ensure_pki(directory: Path) -> Pki:
    """The PKI in ``directory``, generated when any of its files is missing."""
    pki = Pki(directory)
    if all(path.exists() for path in pki.files()):
        return pki
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name=ORGANIZATION)
    ca.cert_pem.write_to_path(str(pki.ca))
    server = ca.issue_cert("127.0.0.1", "localhost", "::1", organization_name=ORGANIZATION)
    _write_leaf(server, pki.server_certificate, pki.server_key)
    for profile in CERTIFIED_PROFILES:
        name = client_id(profile)
        leaf = ca.issue_cert(f"{name}@simulator.invalid", common_name=name, organization_name=ORGANIZATION)
        _write_leaf(leaf, pki.client_certificate(profile), pki.client_key(profile))
    rogue = trustme.CA(organization_name="unexpected CA")
    rogue.cert_pem.write_to_path(str(pki.rogue_ca))
    _write_leaf(rogue.issue_cert("127.0.0.1", "localhost", "::1"), pki.rogue_server_certificate, pki.rogue_server_key)
    pki.server_key.chmod(0o600)
    return pki


def _write_leaf(leaf: trustme.LeafCert, certificate: Path, key: Path) -> None:
    certificate.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    key.chmod(0o600)


def server_context(pki: Pki, faults: FaultInjector) -> ssl.SSLContext:
    """The listener's context; each handshake may be switched to a faulty one by an active TLS fault."""
    main = _context(pki.server_certificate, pki.server_key, pki.ca, ssl.CERT_OPTIONAL)
    faulty = {
        FaultKind.TLS_WRONG_CA: _context(pki.rogue_server_certificate, pki.rogue_server_key, pki.ca, ssl.CERT_OPTIONAL),
        FaultKind.TLS_CLIENT_CERT: _context(pki.server_certificate, pki.server_key, pki.rogue_ca, ssl.CERT_REQUIRED),
    }

    def on_handshake(connection: ssl.SSLObject, server_name: str | None, context: ssl.SSLContext) -> None:
        fault = faults.take("", tls=True)
        if fault is not None:
            connection.context = faulty[fault.kind]

    main.sni_callback = on_handshake
    return main


def _context(certificate: Path, key: Path, trusted: Path, mode: ssl.VerifyMode) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    context.load_verify_locations(trusted)
    context.verify_mode = mode
    return context


def client_context(pki: Pki, profile: int | None = None) -> ssl.SSLContext:
    """A client context trusting the simulator's CA, presenting ``profile``'s certificate if given."""
    context = ssl.create_default_context(cafile=str(pki.ca))
    if profile is not None:
        context.load_cert_chain(pki.client_certificate(profile), pki.client_key(profile))
    return context
