"""The network transport shared by the FHIR and CSD sources.

One :class:`HttpClient` per source owns a long-lived aiohttp session with a TLS context built from
the source's ``tls`` settings, timeouts, a concurrency limit and retries with back-off. Protocol
clients add headers through :class:`RequestHook` objects (:class:`StaticHeaders`,
:class:`TokenManager`) or per call. Failures are :class:`TransportError` subclasses whose messages
are safe to show and log.

FHIR::

    http = HttpClient("fhir", settings.http, settings.tls, observer=metrics)
    api = http.with_hooks(StaticHeaders(ror_headers), TokenManager.for_fhir(http, settings))
    page = (await api.get(f"{settings.base_url}/Location", params={"_lastUpdated": "ge2026-01-01"})).json()
    await api.download(file_url, state_dir / "export" / "part-1.json")

CSD::

    http = HttpClient("csd", settings.http, settings.tls)
    response = await http.request(
        "POST", settings.endpoint, data=envelope, headers={"Content-Type": soap_content_type},
        accept=lambda r: r.status == 500 and b"Fault" in r.body,
    )
"""

from rorsync.transport.errors import (
    AuthenticationError,
    HttpStatusError,
    InsecureUrlError,
    RetriesExhausted,
    TlsError,
    TransportError,
    TruncatedBody,
)
from rorsync.transport.http import (
    Download,
    HttpClient,
    OutgoingRequest,
    RequestHook,
    Response,
    StaticHeaders,
    http_date,
)
from rorsync.transport.oauth import TokenManager
from rorsync.transport.observer import NullObserver, TransportObserver
from rorsync.transport.redact import safe_url
from rorsync.transport.retry import failure_kind, parse_retry_after
from rorsync.transport.tls import build_ssl_context, require_secure_url

__all__ = [
    "AuthenticationError",
    "Download",
    "HttpClient",
    "HttpStatusError",
    "InsecureUrlError",
    "NullObserver",
    "OutgoingRequest",
    "RequestHook",
    "Response",
    "RetriesExhausted",
    "StaticHeaders",
    "TlsError",
    "TokenManager",
    "TransportError",
    "TransportObserver",
    "TruncatedBody",
    "build_ssl_context",
    "failure_kind",
    "http_date",
    "parse_retry_after",
    "require_secure_url",
    "safe_url",
]
