"""Authentication: token endpoint, bearer tokens (401) and the four Ror-* headers (403)."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import aiohttp
import jwt
import pytest

from rorsync.simulator.fhir.auth import ROR_HEADERS
from rorsync.simulator.fhir.service import FhirSettings
from rorsync.simulator.server import Simulator
from tests.simulator.client import SimClient
from tests.simulator.conftest import TINY_SEED


async def test_client_credentials_give_a_jwt_with_expiry(sim: Simulator, session: aiohttp.ClientSession) -> None:
    credentials = sim.credentials(0)
    form = {
        "grant_type": "client_credentials",
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
    }
    async with session.post(sim.token_url, data=form) as response:
        assert response.status == 200
        body = await response.json()
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    assert claims["exp"] > claims["iat"] and claims["sub"] == credentials.client_id


async def test_basic_authentication_is_accepted_at_the_token_endpoint(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    credentials = sim.credentials(2)
    basic = base64.b64encode(f"{credentials.client_id}:{credentials.client_secret}".encode()).decode()
    async with session.post(
        sim.token_url, data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    ) as response:
        assert response.status == 200


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        (
            {"grant_type": "client_credentials", "client_id": "rorsync-sim-p0", "client_secret": "wrong"},
            401,
            "invalid_client",
        ),
        ({"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"}, 401, "invalid_client"),
        ({"grant_type": "password", "client_id": "rorsync-sim-p0"}, 400, "unsupported_grant_type"),
    ],
)
async def test_the_token_endpoint_refuses_bad_requests(
    sim: Simulator, session: aiohttp.ClientSession, form: dict[str, str], status: int, error: str
) -> None:
    async with session.post(sim.token_url, data=form) as response:
        assert response.status == status
        assert (await response.json())["error"] == error


@pytest.mark.parametrize("authorization", [None, "Bearer", "Basic abc", "Bearer not-a-jwt"])
async def test_api_calls_need_a_valid_bearer_token(
    sim: Simulator, session: aiohttp.ClientSession, authorization: str | None
) -> None:
    headers = dict(sim.credentials(1).headers)
    if authorization is not None:
        headers["Authorization"] = authorization
    async with session.get(f"{sim.fhir_base_url}/Location", headers=headers) as response:
        assert response.status == 401
        assert (await response.json())["resourceType"] == "OperationOutcome"


async def test_a_token_signed_by_someone_else_is_refused(sim: Simulator, session: aiohttp.ClientSession) -> None:
    forged = jwt.encode(
        {"sub": "rorsync-sim-p1", "ror_profile": 1, "epoch": 0, "iss": sim.token_url},
        "a-different-signing-key-of-32-bytes!",
        algorithm="HS256",
    )
    headers = {"Authorization": f"Bearer {forged}", **sim.credentials(1).headers}
    async with session.get(f"{sim.fhir_base_url}/metadata", headers=headers) as response:
        assert response.status == 401


@pytest.mark.parametrize("missing", ROR_HEADERS)
async def test_each_ror_header_is_required(sim: Simulator, session: aiohttp.ClientSession, missing: str) -> None:
    client = SimClient(sim, session, 2)
    headers = await client.headers()
    del headers[missing]
    async with session.get(f"{sim.fhir_base_url}/HealthcareService", headers=headers) as response:
        assert response.status == 403
        outcome = await response.json()
        assert outcome["resourceType"] == "OperationOutcome" and missing in outcome["issue"][0]["diagnostics"]


async def test_an_expired_token_is_refused(world_copy: Path, session: aiohttp.ClientSession) -> None:
    settings = FhirSettings(token_lifetime=1.0)
    async with Simulator(scale="tiny", seed=TINY_SEED, world_path=world_copy, settings=settings) as sim:
        client = SimClient(sim, session, 0)
        status, _ = await client.get("metadata")
        assert status == 200
        await asyncio.sleep(1.2)
        status, outcome = await client.get("metadata")
        assert status == 401 and outcome["issue"][0]["code"] == "expired"
        await client.fetch_token()
        assert (await client.get("metadata"))[0] == 200


async def test_metadata_is_a_capability_statement(sim: Simulator, session: aiohttp.ClientSession) -> None:
    status, statement = await SimClient(sim, session, 0).get("metadata")
    assert status == 200 and statement["resourceType"] == "CapabilityStatement" and statement["fhirVersion"] == "4.0.1"
    searchable = {resource["type"] for resource in statement["rest"][0]["resource"]}
    assert searchable == {"Organization", "HealthcareService", "Location", "PractitionerRole", "Practitioner"}
