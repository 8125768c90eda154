"""Authentication as the ROR does it: a Keycloak-like token endpoint, JWT bearer tokens, ``Ror-*`` headers.

Each simulated client has an access profile (0–5). Profile 0 authenticates with its secret; profiles
1–5 with their client certificate when TLS is on (RFC 8705). Without TLS every profile may use its
secret: a simulator convenience, documented as such. Tokens are HS256 JWTs; ``invalidate_tokens``
revokes every token issued so far (the "token expiry" fault).
"""

from __future__ import annotations

import base64
import secrets
import ssl
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web

from rorsync.simulator.fhir.outcome import FhirError

TOKEN_PATH = "/auth/realms/ror/protocol/openid-connect/token"
ROR_HEADERS = (
    "Ror-Profil-Utilisateur-Code",
    "Ror-Profil-Utilisateur-System",
    "Ror-Role-Metier-Code",
    "Ror-Role-Metier-System",
)
PROFILE_USER_CODES = {0: "CU23", 1: "CU22", 2: "CU20", 3: "CU19", 4: "CU26", 5: "CU30"}  # access-policy §5
PROFILE_SYSTEM = "1.2.250.1.213.1.6.1.66"  # TRE_R78
ROLE_CODE = "AUTOMATE"
ROLE_SYSTEM = "1.2.250.1.213.1.1.4.6"
ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    secret: str
    profile: int
    certificate_subject: str | None  # the CN its client certificate must carry (profiles ≥ 1)

    def ror_headers(self) -> dict[str, str]:
        """The four ``Ror-*`` header values the ROR team would hand out with this client."""
        return dict(
            zip(
                ROR_HEADERS,
                (PROFILE_USER_CODES[self.profile], PROFILE_SYSTEM, ROLE_CODE, ROLE_SYSTEM),
                strict=True,
            )
        )


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling, read from a valid token."""

    client_id: str
    profile: int


def client_id(profile: int) -> str:
    """The simulator's client id for an access profile (also the CN of its client certificate)."""
    return f"rorsync-sim-p{profile}"


def default_clients(secrets_by_profile: Mapping[int, str] | None = None) -> dict[str, Client]:
    """One client per profile 0–5, ``rorsync-sim-p<N>``, with a random secret unless one is given."""
    chosen = dict(secrets_by_profile or {})
    clients = {}
    for profile in range(6):
        name = client_id(profile)
        secret = chosen.get(profile) or secrets.token_urlsafe(24)
        clients[name] = Client(name, secret, profile, name if profile >= 1 else None)
    return clients


@dataclass
class TokenIssuer:
    """Issues and checks the access tokens; holds the clients and the signing key."""

    clients: dict[str, Client]
    issuer: str
    lifetime: float = 300.0
    require_certificates: bool = False
    key: str = field(default_factory=lambda: secrets.token_hex(32))
    epoch: int = 0

    def invalidate_tokens(self) -> None:
        """Every token issued so far becomes invalid now (clients must fetch a new one)."""
        self.epoch += 1

    def issue(self, client: Client) -> dict[str, Any]:
        now = time.time()
        claims = {
            "iss": self.issuer,
            "sub": client.client_id,
            "azp": client.client_id,
            "typ": "Bearer",
            "iat": int(now),
            "exp": now + self.lifetime,
            "jti": str(uuid.uuid4()),
            "ror_profile": client.profile,
            "epoch": self.epoch,
        }
        return {
            "access_token": jwt.encode(claims, self.key, algorithm=ALGORITHM),
            "expires_in": int(self.lifetime),
            "refresh_expires_in": 0,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "scope": "profile email",
        }

    def authenticate_client(
        self, form: Mapping[str, str], authorization: str | None, peer_subject: str | None
    ) -> Client:
        """The client a token request comes from; raises :class:`OAuthError` when it cannot be trusted."""
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
            except ValueError as error:
                raise OAuthError(401, "invalid_client", "malformed Basic authorization") from error
        client = self.clients.get(client_id or "")
        if client is None:
            raise OAuthError(401, "invalid_client", f"unknown client {client_id!r}")
        if self.require_certificates and client.profile >= 1:
            if peer_subject is None:
                raise OAuthError(401, "invalid_client", f"client {client.client_id} must present its certificate")
            if peer_subject != client.certificate_subject:
                raise OAuthError(401, "invalid_client", f"certificate {peer_subject!r} is not {client.client_id}'s")
            return client
        if secret is None or not secrets.compare_digest(secret, client.secret):
            raise OAuthError(401, "invalid_client", f"invalid secret for client {client.client_id}")
        return client

    def caller(self, request: web.Request) -> Caller:
        """Check the bearer token (401) and the four ``Ror-*`` headers (403) of an API call."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise FhirError(401, "login", "an Authorization: Bearer token is required", {"WWW-Authenticate": "Bearer"})
        try:
            claims = jwt.decode(token, self.key, algorithms=[ALGORITHM], issuer=self.issuer)
        except jwt.ExpiredSignatureError as error:
            raise FhirError(401, "expired", "the access token has expired", _invalid_token()) from error
        except jwt.InvalidTokenError as error:
            raise FhirError(401, "login", f"invalid access token: {error}", _invalid_token()) from error
        if claims.get("epoch") != self.epoch:
            raise FhirError(401, "expired", "the access token has been revoked", _invalid_token())
        missing = [name for name in ROR_HEADERS if not request.headers.get(name, "").strip()]
        if missing:
            raise FhirError(403, "forbidden", f"missing header(s): {', '.join(missing)}")
        return Caller(str(claims["sub"]), int(claims["ror_profile"]))


class OAuthError(Exception):
    """A refused token request, answered in the OAuth2 error format (RFC 6749 §5.2)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def _invalid_token() -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def peer_certificate_subject(request: web.Request) -> str | None:
    """The CN of the client certificate verified during the TLS handshake, if any."""
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    if not isinstance(ssl_object, ssl.SSLObject):
        return None
    certificate = ssl_object.getpeercert()
    if not certificate:
        return None
    subject: tuple[tuple[tuple[str, str], ...], ...] = certificate.get("subject", ())  # type: ignore[assignment]
    for rdn in subject:
        for key, value in rdn:
            if key == "commonName":
                return value
    return None


async def token_endpoint(request: web.Request) -> web.Response:
    issuer: TokenIssuer = request.app[ISSUER_KEY]
    form = await request.post()
    fields = {key: str(value) for key, value in form.items()}
    if fields.get("grant_type") != "client_credentials":
        return _oauth_error(OAuthError(400, "unsupported_grant_type", "only client_credentials is supported"))
    try:
        client = issuer.authenticate_client(
            fields, request.headers.get("Authorization"), peer_certificate_subject(request)
        )
    except OAuthError as error:
        return _oauth_error(error)
    return web.json_response(issuer.issue(client), headers={"Cache-Control": "no-store"})


def _oauth_error(error: OAuthError) -> web.Response:
    return web.json_response({"error": error.error, "error_description": error.description}, status=error.status)


ISSUER_KEY = web.AppKey("issuer", TokenIssuer)
