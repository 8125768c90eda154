"""The token manager against an in-process token endpoint and API: caching, renewal, 401s, errors, secrecy."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web
from pydantic import SecretStr

from rorsync.config import FhirSettings, TlsSettings
from rorsync.transport import AuthenticationError, HttpClient, StaticHeaders, TokenManager
from tests.transport.conftest import FakeTime, Serve, http_settings

SECRET = "Sup3r-S3cret-value"
CLIENT_ID = "rorsync-test"
ISSUER_KEY = "an HMAC key of thirty-two bytes or more"


@dataclass
class FakeRor:
    """A token endpoint and a FHIR-like API; knobs let a test make either misbehave."""

    expires_in: Any = 300
    token_delay: float = 0.0
    token_status: int = 200
    token_error: dict[str, str] = field(default_factory=dict)
    make_token: Any = None
    revoked: set[str] = field(default_factory=set)
    reject_all: bool = False
    token_forms: list[dict[str, str]] = field(default_factory=list)
    api_authorizations: list[str] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    _serial: Any = field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/token", self.token)
        app.router.add_get("/fhir/{tail:.*}", self.api)
        return app

    async def token(self, request: web.Request) -> web.Response:
        self.token_forms.append(dict(await request.post()))  # type: ignore[arg-type]
        await asyncio.sleep(self.token_delay)
        if self.token_status != 200:
            return web.json_response(self.token_error, status=self.token_status)
        value = self.make_token() if self.make_token else f"token-{next(self._serial)}"
        self.issued.append(value)
        body: dict[str, Any] = {"access_token": value, "token_type": "Bearer"}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return web.json_response(body)

    async def api(self, request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization", "")
        self.api_authorizations.append(authorization)
        token = authorization.removeprefix("Bearer ")
        if self.reject_all or token not in self.issued or token in self.revoked:
            return web.json_response({"resourceType": "OperationOutcome"}, status=401)
        return web.json_response({"resourceType": "Bundle", "total": 0})


@pytest.fixture
def ror() -> FakeRor:
    return FakeRor()


async def connect(
    serve: Serve, ror: FakeRor, fake_time: FakeTime, secret: str | None = SECRET
) -> tuple[HttpClient, HttpClient, TokenManager, str]:
    base = await serve(ror.app())
    http = HttpClient("fhir", http_settings(), TlsSettings(), sleep=fake_time.sleep, clock=fake_time.clock)
    tokens = TokenManager(
        http, base + "/token", CLIENT_ID, SecretStr(secret) if secret else None, clock=fake_time.clock
    )
    api = http.with_hooks(StaticHeaders({"Ror-Role-Metier-Code": "AUTOMATE"}), tokens)
    return http, api, tokens, base + "/fhir"


async def test_the_secret_flow_posts_the_client_credentials(serve: Serve, ror: FakeRor, fake_time: FakeTime) -> None:
    http, api, _, fhir = await connect(serve, ror, fake_time)
    async with http:
        response = await api.get(fhir + "/metadata")
    assert response.json()["resourceType"] == "Bundle"
    assert ror.token_forms == [{"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": SECRET}]
    assert ror.api_authorizations == ["Bearer token-1"]


async def test_for_fhir_sends_a_secret_only_when_one_is_configured(
    serve: Serve, ror: FakeRor, fake_time: FakeTime
) -> None:
    base = await serve(ror.app())
    with_secret, certificate_only = {"grant_type", "client_id", "client_secret"}, {"grant_type", "client_id"}
    for profile, secret, expected_keys in (
        (0, SECRET, with_secret),
        (2, None, certificate_only),
        (2, SECRET, with_secret),
    ):
        settings = FhirSettings(
            token_url=base + "/token",
            client_id=CLIENT_ID,
            client_secret=SecretStr(secret) if secret else None,
            profile=profile,
        )
        async with HttpClient("fhir", http_settings(), TlsSettings()) as http:
            await TokenManager.for_fhir(http, settings).token()
        assert set(ror.token_forms[-1]) == expected_keys


async def test_a_token_is_reused_until_its_renewal_time(serve: Serve, ror: FakeRor, fake_time: FakeTime) -> None:
    http, api, _, fhir = await connect(serve, ror, fake_time)
    async with http:
        for _ in range(3):
            await api.get(fhir + "/Location")
        fake_time.now += 269  # lifetime 300 s, margin max(10 s, 30 s)
        await api.get(fhir + "/Location")
        assert len(ror.token_forms) == 1
        fake_time.now += 2
        await api.get(fhir + "/Location")
    assert len(ror.token_forms) == 2
    assert ror.api_authorizations[-1] == "Bearer token-2"


async def test_a_short_lived_token_keeps_the_ten_second_margin(serve: Serve, ror: FakeRor, fake_time: FakeTime) -> None:
    ror.expires_in = 60
    http, _, tokens, _ = await connect(serve, ror, fake_time)
    async with http:
        await tokens.token()
        fake_time.now += 49
        assert await tokens.token() == "token-1"
        fake_time.now += 2
        assert await tokens.token() == "token-2"


async def test_the_jwt_exp_counts_when_sooner_than_expires_in(serve: Serve, ror: FakeRor, fake_time: FakeTime) -> None:
    exp = int(fake_time.now) + 100
    ror.make_token = lambda: jwt.encode({"exp": exp, "jti": str(len(ror.issued))}, ISSUER_KEY, algorithm="HS256")
    http, _, tokens, _ = await connect(serve, ror, fake_time)
    async with http:
        first = await tokens.token()
        fake_time.now += 89  # lifetime 100 s by exp: renew 10 s before
        assert await tokens.token() == first
        fake_time.now += 2
        assert await tokens.token() != first


async def test_without_expires_in_the_jwt_exp_is_used(serve: Serve, ror: FakeRor, fake_time: FakeTime) -> None:
    ror.expires_in = None
    exp = int(fake_time.now) + 200
    ror.make_token = lambda: jwt.encode({"exp": exp, "jti": str(len(ror.issued))}, ISSUER_KEY, algorithm="HS256")
    http, _, tokens, _ = await connect(serve, ror, fake_time)
    async with http:
        first = await tokens.token()
        fake_time.now += 179  # margin max(10 s, 20 s)
        assert await tokens.token() == first
        fake_time.now += 2
        assert await tokens.token() != first


async def test_a_401_renews_the_token_and_replays_once(serve: Serve, ror: FakeRor, fake_time: FakeTime) -> None:
    http, api, tokens, fhir = await connect(serve, ror, fake_time)
    async with http:
        ror.revoked.add(await tokens.token())
        response = await api.get(fhir + "/Organization")
    assert response.status == 200
    assert ror.api_authorizations == ["Bearer token-1", "Bearer token-2"]
    assert len(ror.token_forms) == 2
    assert fake_time.sleeps == []


async def test_a_download_rejected_with_401_is_replayed_with_a_new_token(
    serve: Serve, ror: FakeRor, fake_time: FakeTime, tmp_path: Path
) -> None:
    http, api, tokens, fhir = await connect(serve, ror, fake_time)
    async with http:
        ror.revoked.add(await tokens.token())
        download = await api.download(fhir + "/export/HealthcareService-1.json", tmp_path / "part-1.json")
    assert download.path.read_bytes() == b'{"resourceType": "Bundle", "total": 0}'
    assert ror.api_authorizations == ["Bearer token-1", "Bearer token-2"]
    assert os.listdir(tmp_path) == ["part-1.json"]


async def test_a_second_401_is_an_authentication_error(serve: Serve, ror: FakeRor, fake_time: FakeTime) -> None:
    ror.reject_all = True
    http, api, _, fhir = await connect(serve, ror, fake_time)
    async with http:
        with pytest.raises(AuthenticationError) as raised:
            await api.get(fhir + "/Organization")
    assert len(ror.api_authorizations) == 2
    assert len(ror.token_forms) == 2
    message = str(raised.value)
    assert f"GET {fhir}/Organization answered 401 Unauthorized" in message
    assert repr(CLIENT_ID) in message
    assert "Ror-* headers" in message
    assert "token-" not in message


async def test_concurrent_callers_share_one_token_request(serve: Serve, ror: FakeRor, fake_time: FakeTime) -> None:
    ror.token_delay = 0.05
    http, api, _, fhir = await connect(serve, ror, fake_time)
    async with http:
        await asyncio.gather(*(api.get(fhir + f"/Location/{n}") for n in range(10)))
    assert len(ror.token_forms) == 1
    assert set(ror.api_authorizations) == {"Bearer token-1"}


async def test_concurrent_401s_share_one_renewal(serve: Serve, ror: FakeRor, fake_time: FakeTime) -> None:
    http, api, tokens, fhir = await connect(serve, ror, fake_time)
    async with http:
        ror.revoked.add(await tokens.token())
        ror.token_delay = 0.05
        responses = await asyncio.gather(*(api.get(fhir + f"/Location/{n}") for n in range(6)))
    assert all(r.status == 200 for r in responses)
    assert len(ror.token_forms) == 2


@pytest.mark.parametrize("code", [400, 401])
async def test_a_refused_client_gets_a_clear_error_without_the_secret(
    serve: Serve, ror: FakeRor, fake_time: FakeTime, caplog: pytest.LogCaptureFixture, code: int
) -> None:
    caplog.set_level(logging.DEBUG)
    ror.token_status = code
    ror.token_error = {"error": "invalid_client", "error_description": f"Invalid client secret {SECRET}"}
    http, api, _, fhir = await connect(serve, ror, fake_time)
    async with http:
        with pytest.raises(AuthenticationError) as raised:
            await api.get(fhir + "/Organization")
    message = str(raised.value)
    token_url = fhir.removesuffix("/fhir") + "/token"
    assert message.startswith(f"the token endpoint {token_url} refused client id {CLIENT_ID!r}: {code} invalid_client")
    assert "fhir.client_secret_file" in message
    assert SECRET not in message
    assert len(ror.token_forms) == 1
    assert ror.api_authorizations == []
    assert not [r for r in caplog.records if SECRET in r.getMessage()]


async def test_an_answer_without_access_token_is_an_authentication_error(
    serve: Serve, ror: FakeRor, fake_time: FakeTime
) -> None:
    async def empty(request: web.Request) -> web.Response:
        return web.json_response({"token_type": "Bearer"})

    app = web.Application()
    app.router.add_post("/token", empty)
    base = await serve(app)
    async with HttpClient("fhir", http_settings(), TlsSettings()) as http:
        with pytest.raises(AuthenticationError, match="without an access_token"):
            await TokenManager(http, base + "/token", CLIENT_ID, SecretStr(SECRET)).token()
