"""OAuth2 ``client_credentials`` tokens for the ROR FHIR API (Keycloak realm ``ror``).

Profile 0 authenticates with ``client_id`` + ``client_secret`` (form POST); profiles 1–5 with
``client_id`` alone over mutual TLS (RFC 8705): the client certificate of the :class:`HttpClient`
authenticates, so the token request must go through the same client as the API calls.

A token is cached and renewed shortly before it expires — a margin of 10 s or a tenth of its lifetime,
whichever is larger (never more than half of it) — and after the API answers 401 (the request is then
replayed once). Concurrent callers share one token request. The secret never appears in a message or
a log line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import orjson
from pydantic import SecretStr

from rorsync.config import FhirSettings
from rorsync.transport.errors import AuthenticationError, HttpStatusError
from rorsync.transport.http import HttpClient, OutgoingRequest, RequestHook
from rorsync.transport.redact import safe_url

log = logging.getLogger(__name__)

RENEWAL_MARGIN_SECONDS = 10.0  # the ANS sample renews when exp is less than about 10 s away
RENEWAL_MARGIN_FRACTION = 0.1
DEFAULT_LIFETIME_SECONDS = 60.0  # neither expires_in nor a JWT exp: assume a short life


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    renew_at: float  # wall-clock time after which the token is no longer handed out


class TokenManager(RequestHook):
    """Adds ``Authorization: Bearer …`` to every request of the client view it is hooked into.

    ``http`` is the source's client *without* this hook (the token request must not carry itself)::

        http = HttpClient("fhir", settings.http, settings.tls)
        tokens = TokenManager.for_fhir(http, settings)
        api = http.with_hooks(StaticHeaders(ror_headers), tokens)
    """

    def __init__(
        self,
        http: HttpClient,
        token_url: str,
        client_id: str,
        client_secret: SecretStr | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._current: _Token | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def for_fhir(
        cls, http: HttpClient, settings: FhirSettings, *, clock: Callable[[], float] = time.time
    ) -> TokenManager:
        """Profile 0 authenticates with its client secret, profiles 1–5 with the client certificate.

        A secret configured for profiles 1–5 is sent too: test platforms (the local ROR over plain
        http on loopback) authenticate every profile that way. Production configurations of those
        profiles have no secret, so nothing extra leaves the process.
        """
        return cls(http, settings.token_url, settings.client_id, settings.client_secret, clock=clock)

    async def token(self) -> str:
        """A token valid for at least the renewal margin, fetched only when needed."""
        current = self._current
        if current is not None and self._clock() < current.renew_at:
            return current.value
        async with self._lock:
            current = self._current
            if current is not None and self._clock() < current.renew_at:
                return current.value
            return await self._fetch()

    async def before_request(self, request: OutgoingRequest) -> None:
        request.headers["Authorization"] = f"Bearer {await self.token()}"

    async def on_unauthorized(self, request: OutgoingRequest, error: HttpStatusError) -> bool:
        if request.replay:
            raise AuthenticationError(
                self._scrub(
                    f"{error} (with a token just renewed for client id {self._client_id!r} from "
                    f"{safe_url(self._token_url)}): the client is known but not allowed this call; "
                    "check its rights and the Ror-* headers with the ROR team"
                )
            )
        rejected = request.headers.get("Authorization", "").removeprefix("Bearer ")
        async with self._lock:
            if self._current is None or self._current.value == rejected:  # else another caller renewed it
                await self._fetch()
        return True

    async def _fetch(self) -> str:
        form = {"grant_type": "client_credentials", "client_id": self._client_id}
        if self._client_secret is not None:
            form["client_secret"] = self._client_secret.get_secret_value()
        try:
            response = await self._http.request(
                "POST", self._token_url, data=form, headers={"Accept": "application/json"}
            )
        except HttpStatusError as error:
            raise AuthenticationError(self._refusal(error)) from error
        now = self._clock()
        value, lifetime = self._read_token(response.body, now)
        margin = min(max(RENEWAL_MARGIN_SECONDS, RENEWAL_MARGIN_FRACTION * lifetime), lifetime / 2)
        self._current = _Token(value, now + lifetime - margin)
        log.debug(
            "obtained an access token for client id %r from %s, valid %.0fs",
            self._client_id,
            safe_url(self._token_url),
            lifetime,
        )
        return value

    def _read_token(self, body: bytes, now: float) -> tuple[str, float]:
        """The token and its lifetime in seconds: the sooner of ``expires_in`` and the JWT ``exp``."""
        where = f"the token endpoint {safe_url(self._token_url)}"
        try:
            payload: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise AuthenticationError(f"{where} answered something that is not JSON") from None
        value = payload.get("access_token") if isinstance(payload, Mapping) else None
        if not isinstance(value, str) or not value:
            raise AuthenticationError(f"{where} answered without an access_token")
        token_type = str(payload.get("token_type", "Bearer"))
        if token_type.lower() != "bearer":
            raise AuthenticationError(f"{where} issued a {token_type!r} token; only Bearer tokens are supported")
        lifetimes = []
        expires_in = payload.get("expires_in")
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
            lifetimes.append(float(expires_in))
        expiry = _jwt_expiry(value)
        if expiry is not None and expiry > now:
            lifetimes.append(expiry - now)
        elif expiry is not None:
            log.warning("%s issued a token whose exp is already past: is the local clock right?", where)
        return value, min(lifetimes, default=DEFAULT_LIFETIME_SECONDS)

    def _refusal(self, error: HttpStatusError) -> str:
        credential = (
            "the client secret (fhir.client_secret_file)"
            if self._client_secret is not None
            else "the client certificate (tls.client_cert) registered with the ROR"
        )
        return self._scrub(
            f"the token endpoint {safe_url(self._token_url)} refused client id {self._client_id!r}: "
            f"{error.status} {_oauth_error(error.excerpt)}; check the client id and {credential}"
        )

    def _scrub(self, text: str) -> str:
        """Belt and braces: whatever a server echoes back, the secret does not leave this object."""
        if self._client_secret is not None and self._client_secret.get_secret_value():
            text = text.replace(self._client_secret.get_secret_value(), "***")
        return text


def _oauth_error(excerpt: str) -> str:
    """``invalid_client (Invalid client credentials)`` from an RFC 6749 error body, else the excerpt."""
    try:
        payload = orjson.loads(excerpt)
    except orjson.JSONDecodeError:
        return excerpt
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        description = payload.get("error_description")
        return f"{payload['error']} ({description})" if description else payload["error"]
    return excerpt


def _jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim, read without verifying the signature (only the issuer's API needs to trust it)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False})
    except jwt.PyJWTError:
        return None  # an opaque token
    exp = claims.get("exp")
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None
