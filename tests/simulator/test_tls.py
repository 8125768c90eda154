"""Mutual TLS: the generated client certificates authenticate profiles 1–5; TLS faults break handshakes."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from rorsync.simulator.server import Simulator
from rorsync.simulator.tls import client_context, ensure_pki


@pytest.fixture
async def tls_sim(world_copy: Path, tmp_path: Path) -> AsyncIterator[Simulator]:
    async with Simulator(world_path=world_copy, tls=True, tls_dir=tmp_path / "tls") as running:
        yield running


async def token(
    sim: Simulator, session: aiohttp.ClientSession, profile: int, context: ssl.SSLContext, **form: str
) -> Any:
    data = {"grant_type": "client_credentials", "client_id": f"rorsync-sim-p{profile}", **form}
    async with session.post(sim.token_url, data=data, ssl=context) as response:
        return response.status, await response.json()


def test_the_pki_is_written_with_plain_names_and_reused(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path)
    names = sorted(path.name for path in tmp_path.iterdir())
    assert {"ca.pem", "server.pem", "server.key", "client-p1.pem", "client-p1.key", "client-p5.key"} <= set(names)
    before = first.ca.read_bytes()
    assert ensure_pki(tmp_path).ca.read_bytes() == before
    certificate = x509.load_pem_x509_certificate(first.client_certificate(3).read_bytes())
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "rorsync-sim-p3"


async def test_a_client_certificate_authenticates_profiles_1_to_5(
    tls_sim: Simulator, session: aiohttp.ClientSession
) -> None:
    assert tls_sim.fhir_base_url.startswith("https://")
    pki = tls_sim.pki
    assert pki is not None
    for profile in (1, 5):
        status, body = await token(tls_sim, session, profile, client_context(pki, profile))
        assert status == 200, body
        credentials = tls_sim.credentials(profile)
        assert credentials.certificate == pki.client_certificate(profile) and credentials.ca_certificate == pki.ca
        headers = {"Authorization": f"Bearer {body['access_token']}", **credentials.headers}
        async with session.get(
            f"{tls_sim.fhir_base_url}/Location",
            params={"_count": "1"},
            headers=headers,
            ssl=client_context(pki, profile),
        ) as response:
            assert response.status == 200


async def test_without_its_certificate_a_profile_1_client_is_refused(
    tls_sim: Simulator, session: aiohttp.ClientSession
) -> None:
    pki = tls_sim.pki
    assert pki is not None
    secret = tls_sim.credentials(1).client_secret
    status, body = await token(tls_sim, session, 1, client_context(pki), client_secret=secret)
    assert status == 401 and body["error"] == "invalid_client"
    status, body = await token(tls_sim, session, 1, client_context(pki, 2))  # someone else's certificate
    assert status == 401


async def test_profile_0_keeps_its_secret(tls_sim: Simulator, session: aiohttp.ClientSession) -> None:
    pki = tls_sim.pki
    assert pki is not None
    status, _ = await token(
        tls_sim, session, 0, client_context(pki), client_secret=tls_sim.credentials(0).client_secret
    )
    assert status == 200


async def test_a_server_certificate_from_an_unexpected_ca_fails_verification(
    tls_sim: Simulator, session: aiohttp.ClientSession
) -> None:
    pki = tls_sim.pki
    assert pki is not None
    tls_sim.faults.inject("tls_wrong_ca", count=1)
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        await token(tls_sim, session, 1, client_context(pki, 1))
    assert (await token(tls_sim, session, 1, client_context(pki, 1)))[0] == 200


async def test_a_required_client_certificate_the_client_lacks_breaks_the_handshake(
    tls_sim: Simulator, session: aiohttp.ClientSession
) -> None:
    pki = tls_sim.pki
    assert pki is not None
    tls_sim.faults.inject("tls_client_cert", count=2)  # aiohttp may retry the request once
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as fresh:
        with pytest.raises((aiohttp.ClientConnectionError, ssl.SSLError)):
            await token(tls_sim, fresh, 1, client_context(pki, 1))
