"""Faults on demand: the transport and server misbehaviours a ROR client must survive.

A :class:`Fault` targets requests whose path matches a regular expression, for a number of requests
(or until removed). The aiohttp middleware applies HTTP-level faults; TLS faults are consulted by the
TLS layer at each handshake (see :mod:`rorsync.simulator.tls`); the token-expiry fault acts at once.

=================  ==========================================================================
kind               effect
=================  ==========================================================================
latency            wait ``delay`` seconds, then answer normally
status             answer ``status`` (5xx by default) with an OperationOutcome
rate_limit         answer 429 with ``Retry-After: retry_after``
reset              reset the TCP connection (RST) without answering
truncate           announce the full Content-Length, send half the body, close
malformed          answer with a body cut in half: invalid JSON with a correct length
hang               never answer; the connection is reset after ``max_hang`` seconds
token_expiry       revoke every access token issued so far (acts once, when injected)
tls_wrong_ca       present a server certificate from an unexpected CA
tls_client_cert    require a client certificate from a CA no client has
corrupt_digest     serve a TR-Extraction ZIP whose first SHA-256 sidecar is wrong
csd_error          answer a CSD request with error 444, as a SOAP Fault (``form=fault``) or
                   in-band (``form=in-band``, the default), HTTP 500, as the ANS mock does
=================  ==========================================================================

``match`` (a regular expression searched in the request body, e.g. an idNatStruct or
``TR-Notif``) narrows any fault to the requests that carry it.
"""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from aiohttp import web

from rorsync.simulator.csd import documents
from rorsync.simulator.fhir.outcome import FhirError, error_response

CONTROL_PREFIX = "/_control/"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FaultKind(StrEnum):
    LATENCY = "latency"
    STATUS = "status"
    RATE_LIMIT = "rate_limit"
    RESET = "reset"
    TRUNCATE = "truncate"
    MALFORMED = "malformed"
    HANG = "hang"
    TOKEN_EXPIRY = "token_expiry"
    TLS_WRONG_CA = "tls_wrong_ca"
    TLS_CLIENT_CERT = "tls_client_cert"
    CORRUPT_DIGEST = "corrupt_digest"
    CSD_ERROR = "csd_error"


TLS_KINDS = frozenset({FaultKind.TLS_WRONG_CA, FaultKind.TLS_CLIENT_CERT})
EXTRACTION_PATHS = r"^/V1/extraction/"  # where a corrupt_digest fault applies unless told otherwise
CORRUPT_DIGEST_KEY = web.RequestKey("corrupt_digest", bool)
CSD_ERROR_FORMS = ("in-band", "fault")


@dataclass
class Fault:
    kind: FaultKind
    path: str | None = None  # regular expression searched in the request path; None: every API path
    count: int | None = None  # requests (or TLS handshakes) left; None: until removed
    status: int = 503
    delay: float = 1.0
    retry_after: int = 1
    max_hang: float = 30.0
    form: str = "in-band"  # csd_error: "fault" or "in-band"
    match: str | None = None  # regular expression searched in the request body
    fault_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def __post_init__(self) -> None:
        self.kind = FaultKind(self.kind)
        if self.kind is FaultKind.CORRUPT_DIGEST and self.path is None:
            self.path = EXTRACTION_PATHS
        for pattern in (self.path, self.match):
            if pattern is not None:
                re.compile(pattern)
        if self.form not in CSD_ERROR_FORMS:
            raise ValueError(f"form must be one of {', '.join(CSD_ERROR_FORMS)}, got {self.form!r}")
        if self.count is not None and self.count < 0:
            raise ValueError(f"fault count must be positive, got {self.count}")

    def as_json(self) -> dict[str, Any]:
        return {key: (str(value) if key == "kind" else value) for key, value in asdict(self).items()}

    @classmethod
    def parse(cls, text: str) -> Fault:
        """``KIND[:key=value,...]``, e.g. ``status:status=502,count=3,path=/Location`` (the CLI form)."""
        kind, _, rest = text.partition(":")
        options: dict[str, Any] = {}
        for item in filter(None, rest.split(",")):
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"fault option {item!r} in {text!r} is not key=value")
            options[key.strip()] = value.strip()
        return cls.from_options(kind, options)

    @classmethod
    def from_options(cls, kind: str, options: dict[str, Any]) -> Fault:
        """Build a fault from loosely typed options (CLI text, control-endpoint JSON); errors name the field."""
        casts: dict[str, Callable[[Any], Any]] = {
            "path": str,
            "count": int,
            "status": int,
            "delay": float,
            "retry_after": int,
            "max_hang": float,
            "form": str,
            "match": str,
        }
        values: dict[str, Any] = {}
        for key, value in options.items():
            if key not in casts:
                raise ValueError(f"unknown fault option {key!r}; known: {', '.join(casts)}")
            try:
                values[key] = None if value is None else casts[key](value)
            except (TypeError, ValueError) as error:
                raise ValueError(f"fault option {key}={value!r} is not a valid {casts[key].__name__}") from error
        try:
            return cls(FaultKind(kind), **values)
        except ValueError as error:
            raise ValueError(f"invalid fault {kind!r}: {error}") from error


class FaultInjector:
    """The active faults; thread-safe (TLS handshakes consult it outside the event loop)."""

    def __init__(self, on_token_expiry: Callable[[], None] | None = None) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._on_token_expiry = on_token_expiry

    def inject(self, kind: str | FaultKind, **options: Any) -> Fault:
        """Add a fault (``Simulator.faults.inject(kind="status", status=503, count=3, path="/Location")``)."""
        return self.add(Fault.from_options(str(kind), options))

    def add(self, fault: Fault) -> Fault:
        if fault.kind is FaultKind.TOKEN_EXPIRY:
            if self._on_token_expiry is not None:
                self._on_token_expiry()
            return fault
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self, fault_id: str | None = None) -> int:
        """Remove one fault, or all of them; returns how many were removed."""
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if fault_id is not None and f.fault_id != fault_id]
            return before - len(self._faults)

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, path: str, *, tls: bool = False, body: bytes | None = None) -> Fault | None:
        """The first fault that applies to ``path`` and ``body`` (HTTP faults) or to a handshake
        (``tls``), consuming one use."""
        with self._lock:
            for fault in self._faults:
                if (fault.kind in TLS_KINDS) != tls:
                    continue
                if fault.path is not None and not re.search(fault.path, path):
                    continue
                if fault.match is not None and not re.search(fault.match, (body or b"").decode("utf-8", "replace")):
                    continue
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return await handler(request)
        body = await request.read() if request.can_read_body and any(f.match for f in self.active()) else None
        fault = self.take(request.path, body=body)
        if fault is None:
            return await handler(request)
        return await _apply(fault, request, handler)


class FileBodyResponse(web.FileResponse):
    """A file response that remembers its file, so body faults can cut it."""

    def __init__(self, path: Path, headers: dict[str, str] | None = None) -> None:
        super().__init__(path, headers=headers)
        self.source = path


async def _apply(fault: Fault, request: web.Request, handler: Handler) -> web.StreamResponse:
    kind = fault.kind
    if kind is FaultKind.LATENCY:
        await asyncio.sleep(fault.delay)
        return await handler(request)
    if kind is FaultKind.STATUS:
        return error_response(FhirError(fault.status, "transient", f"injected fault: HTTP {fault.status}"))
    if kind is FaultKind.RATE_LIMIT:
        error = FhirError(
            429, "throttled", "injected fault: too many requests", {"Retry-After": str(fault.retry_after)}
        )
        return error_response(error)
    if kind is FaultKind.RESET:
        return _reset(request)
    if kind is FaultKind.CORRUPT_DIGEST:
        request[CORRUPT_DIGEST_KEY] = True
        return await handler(request)
    if kind is FaultKind.CSD_ERROR:
        body = documents.fault() if fault.form == "fault" else documents.lecture_error()
        return web.Response(status=500, body=body, content_type="application/soap+xml", charset="utf-8")
    if kind is FaultKind.HANG:
        await asyncio.sleep(fault.max_hang)
        return _reset(request)
    response = await handler(request)
    body = await _body_of(response)
    if kind is FaultKind.MALFORMED:
        return web.Response(
            body=body[: max(1, len(body) // 2)], status=response.status, content_type=response.content_type
        )
    truncated = web.StreamResponse(status=response.status, headers={"Content-Type": response.content_type})
    truncated.content_length = len(body)
    await truncated.prepare(request)
    await truncated.write(body[: len(body) // 2])
    if request.transport is not None:
        request.transport.close()
    return truncated


async def _body_of(response: web.StreamResponse) -> bytes:
    if isinstance(response, FileBodyResponse):
        return await asyncio.to_thread(response.source.read_bytes)
    if isinstance(response, web.Response) and isinstance(response.body, bytes):
        return response.body
    raise TypeError(f"cannot cut the body of a {type(response).__name__}")


def _reset(request: web.Request) -> web.Response:
    """Close the connection with a TCP RST (SO_LINGER 0), as a crashed peer or middlebox would."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return web.Response(status=500)
