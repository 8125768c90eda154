"""One HTTP client per ROR source: a long-lived session, bounded concurrency, timeouts and retries.

Every call is bounded in time (connect, idle read, and a total ceiling for buffered calls), in
concurrency (``max_concurrency`` exchanges in flight, shared by every view of the client), and in
attempts (see :mod:`rorsync.transport.retry`). Only https is spoken, except to loopback, including
after a redirect.

Protocol clients add their own headers through :class:`RequestHook` objects attached with
:meth:`HttpClient.with_hooks` (the FHIR client: ``Authorization`` from a
:class:`~rorsync.transport.oauth.TokenManager` and the four ``Ror-*`` headers) or per call
(``headers=``: the CSD client's SOAP ``Content-Type``). Hooks run before every attempt and outside the
concurrency limit, so a hook may itself call the client (the token manager does).

Tests and the simulator point the client at an in-process aiohttp server on 127.0.0.1 and inject
``sleep`` (back-off waits) and ``clock`` (wall time, for ``Retry-After`` dates) to stay fast.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import email.utils
import logging
import os
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace, TracebackType
from typing import Any, TypeVar

import aiohttp
import orjson
from multidict import CIMultiDict, CIMultiDictProxy
from tenacity import RetryCallState, RetryError
from yarl import URL

from rorsync import __version__
from rorsync.config import HttpSettings, TlsSettings
from rorsync.transport.errors import (
    HttpStatusError,
    RetriesExhausted,
    TlsError,
    TransportError,
    TruncatedBody,
    describe,
)
from rorsync.transport.observer import NullObserver, TransportObserver
from rorsync.transport.redact import safe_url
from rorsync.transport.retry import (
    RETRY_AFTER_STATUSES,
    Sleep,
    failure_kind,
    is_transient,
    parse_retry_after,
    retrying,
)
from rorsync.transport.tls import build_ssl_context, require_secure_url

log = logging.getLogger(__name__)

T = TypeVar("T")
Body = bytes | str | Mapping[str, str] | None
"""Request bodies are replayable values only (retries and the replay after a 401 send them again)."""

EXCERPT_CHARS = 300
_ERROR_BODY_BYTES = 64 * 1024  # read from a failed download, for the error excerpt
_CHUNK_BYTES = 256 * 1024
_WRITE_BATCH_BYTES = 1024 * 1024  # one thread hop per MiB keeps file writes off the event loop cheaply
_SECRET_HEADERS = ("Authorization", "Proxy-Authorization", "Cookie")


@dataclass(frozen=True, slots=True)
class Response:
    """A fully read response. ``url`` is the final URL (after redirects), unredacted."""

    status: int
    reason: str
    headers: CIMultiDictProxy[str]
    body: bytes
    url: str

    def json(self) -> Any:
        """The body parsed with orjson (raises ``orjson.JSONDecodeError`` on malformed JSON)."""
        return orjson.loads(self.body)


@dataclass(frozen=True, slots=True)
class Download:
    """A completed download: ``path`` holds exactly ``size`` bytes of the (decoded) body."""

    path: Path
    size: int
    headers: CIMultiDictProxy[str]


def http_date(value: str | None) -> dt.datetime | None:
    """An HTTP date (``Date``, ``Last-Modified``) as an aware UTC instant, None when absent or unreadable.

    The server's ``Date`` is a clock that does not depend on ours: cursors derive from it.
    """
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).astimezone(dt.UTC)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class OutgoingRequest:
    """What hooks see before each attempt; they may change ``headers`` only."""

    method: str
    url: str
    headers: CIMultiDict[str]
    replay: bool = False  # the one replay after a 401 that a hook offered to fix


class RequestHook:
    """Per-request behaviour shared by all calls of a client view; override what you need."""

    async def before_request(self, request: OutgoingRequest) -> None:
        """Add headers. Runs before every attempt (retries and replays included)."""

    async def on_unauthorized(self, request: OutgoingRequest, error: HttpStatusError) -> bool:
        """The server answered 401 to ``request`` (``error`` says how, secrets already removed).

        Return True when fresh credentials are ready: the request is then replayed once, with
        ``replay=True``. Called again if the replay also gets a 401: raise a clear error there.
        """
        return False


class StaticHeaders(RequestHook):
    """Fixed headers on every request (the FHIR ``Ror-*`` headers)."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = dict(headers)

    async def before_request(self, request: OutgoingRequest) -> None:
        request.headers.update(self._headers)


@dataclass(slots=True)
class _Call:
    """One logical call across its attempts."""

    method: str
    url: URL
    headers: Mapping[str, str]
    data: Body
    timeout: aiohttp.ClientTimeout
    replayed: bool = False

    @property
    def safe_url(self) -> str:
        return safe_url(self.url)


@dataclass(frozen=True, slots=True)
class _Unauthorized:
    error: HttpStatusError


@dataclass
class _Pool:
    """What every view of one client shares: the session, the concurrency limit, the seams."""

    source: str
    settings: HttpSettings
    tls: TlsSettings
    observer: TransportObserver
    sleep: Sleep
    clock: Callable[[], float]
    semaphore: asyncio.Semaphore = field(init=False)
    ssl_context: ssl.SSLContext = field(init=False)
    session: aiohttp.ClientSession | None = None
    closed: bool = False

    def __post_init__(self) -> None:
        self.ssl_context = build_ssl_context(self.tls)  # a bad CA bundle or key fails at start-up
        self.semaphore = asyncio.Semaphore(self.settings.max_concurrency)

    def open_session(self) -> aiohttp.ClientSession:
        if self.closed:
            raise TransportError(f"the {self.source} HTTP client is closed")
        if self.session is None:
            redirects = aiohttp.TraceConfig()
            redirects.on_request_redirect.append(_refuse_insecure_redirect)
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.settings.max_concurrency, ssl=self.ssl_context),
                headers={"User-Agent": f"rorsync/{__version__}"},
                trace_configs=[redirects],
            )
        return self.session


async def _refuse_insecure_redirect(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestRedirectParams
) -> None:
    """aiohttp follows https → http redirects; we do not."""
    location = params.response.headers.get("Location")
    if location:
        target = params.response.url.join(URL(location))
        if target.scheme == "http":
            params.response.release()
            require_secure_url(str(target))


class HttpClient:
    """The HTTP client of one source (``"fhir"``, ``"csd"``); create one per source, close it at exit::

    async with HttpClient("csd", settings.csd.http, settings.csd.tls) as http:
        response = await http.request("POST", endpoint, data=envelope, headers={"Content-Type": SOAP_TYPE})
    """

    def __init__(
        self,
        source: str,
        settings: HttpSettings,
        tls: TlsSettings,
        *,
        observer: TransportObserver | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pool = _Pool(source, settings, tls, observer or NullObserver(), sleep, clock)
        self._hooks: tuple[RequestHook, ...] = ()

    def with_hooks(self, *hooks: RequestHook) -> HttpClient:
        """A view sharing this client's session and limits, running ``hooks`` after this view's own."""
        view = copy.copy(self)
        view._hooks = (*self._hooks, *hooks)
        return view

    async def close(self) -> None:
        """Close the shared session (for every view); later calls raise :class:`TransportError`."""
        self._pool.closed = True
        if self._pool.session is not None:
            await self._pool.session.close()

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Body = None,
        accept: Callable[[Response], bool] | None = None,
    ) -> Response:
        """Send a request and read the whole body, retrying transient failures.

        Statuses below 400 are returned; so is any response for which ``accept`` returns True (the
        CSD client accepts a SOAP Fault sent with status 500 instead of having it retried). Other
        statuses raise :class:`HttpStatusError`, after retries for 429/500/502/503/504.
        Raises :class:`RetriesExhausted`, :class:`TlsError`, :class:`InsecureUrlError`,
        :class:`AuthenticationError` (from a hook) or :class:`TransportError`.
        """
        call = _Call(method.upper(), _full_url(url, params), headers or {}, data, self._timeout(buffered=True))

        async def read_body(response: aiohttp.ClientResponse, request: OutgoingRequest) -> Response | _Unauthorized:
            body = await response.read()
            _check_complete(call, response, len(body))
            return self._judge(call, request, _response(response, body), accept)

        return await self._call(call, read_body)

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        accept: Callable[[Response], bool] | None = None,
    ) -> Response:
        return await self.request("GET", url, params=params, headers=headers, accept=accept)

    async def download(
        self,
        url: str,
        destination: Path,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Download:
        """GET ``url`` into ``destination``, streamed in chunks (memory stays bounded whatever the size).

        The body goes to a temporary sibling file that replaces ``destination`` only once complete
        (and its length checked against ``Content-Length``); a failed attempt leaves nothing behind
        and the next one starts from zero. There is no total time limit, only the idle-read one.
        """
        call = _Call("GET", _full_url(url, params), headers or {}, None, self._timeout(buffered=False))

        async def stream(response: aiohttp.ClientResponse, request: OutgoingRequest) -> Download | _Unauthorized:
            if response.status >= 400:
                excerpt = await response.content.read(_ERROR_BODY_BYTES)
                judged = self._judge(call, request, _response(response, excerpt), accept=None)
                assert isinstance(judged, _Unauthorized)  # _judge raises for every other error status
                return judged
            return await _stream_to_file(call, response, destination)

        return await self._call(call, stream)

    # --- the machinery ---------------------------------------------------------------------------

    def _timeout(self, *, buffered: bool) -> aiohttp.ClientTimeout:
        """Connect and idle-read limits always; a total ceiling (connect + twice the read limit) unless streaming."""
        settings = self._pool.settings
        connect = settings.connect_timeout.total_seconds()
        read = settings.read_timeout.total_seconds()
        total = connect + 2 * read if buffered else None
        return aiohttp.ClientTimeout(total=total, connect=connect, sock_connect=connect, sock_read=read)

    async def _call(
        self,
        call: _Call,
        consume: Callable[[aiohttp.ClientResponse, OutgoingRequest], Awaitable[T | _Unauthorized]],
    ) -> T:
        pool = self._pool
        try:
            require_secure_url(str(call.url))
            async for attempt in retrying(pool.settings, pool.sleep, lambda state: self._before_retry(call, state)):
                with attempt:
                    result = await self._attempt(call, attempt.retry_state.attempt_number, consume)
            return result
        except RetryError as exhausted:
            last = exhausted.last_attempt.exception()
            assert last is not None
            pool.observer.on_error(pool.source, failure_kind(last))
            raise RetriesExhausted(
                call.method, str(call.url), exhausted.last_attempt.attempt_number, last, self._hint(call, last)
            ) from last
        except TransportError as error:
            pool.observer.on_error(pool.source, failure_kind(error))
            raise

    async def _attempt(
        self,
        call: _Call,
        attempt: int,
        consume: Callable[[aiohttp.ClientResponse, OutgoingRequest], Awaitable[T | _Unauthorized]],
    ) -> T:
        while True:
            request = OutgoingRequest(call.method, str(call.url), CIMultiDict(call.headers), call.replayed)
            for hook in self._hooks:
                await hook.before_request(request)
            outcome = await self._exchange(call, request, attempt, consume)
            if not isinstance(outcome, _Unauthorized):
                return outcome
            offered = [await hook.on_unauthorized(request, outcome.error) for hook in self._hooks]
            if call.replayed or not any(offered):
                raise outcome.error
            call.replayed = True

    async def _exchange(
        self,
        call: _Call,
        request: OutgoingRequest,
        attempt: int,
        consume: Callable[[aiohttp.ClientResponse, OutgoingRequest], Awaitable[T]],
    ) -> T:
        pool = self._pool
        session = pool.open_session()
        status: int | None = None
        failure: BaseException | None = None
        async with pool.semaphore:
            started = time.monotonic()
            try:
                async with session.request(
                    call.method, call.url, headers=request.headers, data=call.data, timeout=call.timeout
                ) as response:
                    status = response.status
                    return await consume(response, request)
            except BaseException as error:
                failure = error
                if isinstance(error, aiohttp.ClientSSLError):
                    raise TlsError(f"{call.method} {call.safe_url}: TLS failed: {_tls_reason(error)}") from error
                if isinstance(error, aiohttp.ClientError) and not is_transient(error):
                    raise TransportError(f"{call.method} {call.safe_url}: {_client_error_text(error)}") from error
                raise
            finally:
                seconds = time.monotonic() - started
                if log.isEnabledFor(logging.DEBUG):  # redacting the URL is not free
                    log.debug(
                        "%s %s %s -> %s in %.3fs (attempt %d)",
                        pool.source,
                        call.method,
                        call.safe_url,
                        _outcome(status, failure),
                        seconds,
                        attempt,
                    )
                pool.observer.on_request(pool.source, call.method, call.url.host or "", status, seconds)

    def _judge(
        self, call: _Call, request: OutgoingRequest, response: Response, accept: Callable[[Response], bool] | None
    ) -> Response | _Unauthorized:
        if response.status < 400 or (accept is not None and accept(response)):
            return response
        retry_after = None
        if response.status in RETRY_AFTER_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._pool.clock())
        error = HttpStatusError(
            call.method,
            str(call.url),
            response.status,
            response.reason,
            _excerpt(response.body, request),
            retry_after=retry_after,
        )
        if response.status == 401 and self._hooks:
            return _Unauthorized(error)
        raise error

    def _before_retry(self, call: _Call, state: RetryCallState) -> None:
        pool = self._pool
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        reason = failure_kind(error) if error else "unknown"
        log.warning(
            "%s %s %s failed (%s), retrying in %.1fs (attempt %d of %d)",
            pool.source,
            call.method,
            call.safe_url,
            describe(error) if error else reason,
            wait,
            state.attempt_number + 1,
            pool.settings.max_attempts,
        )
        pool.observer.on_retry(pool.source, reason)

    def _hint(self, call: _Call, last: BaseException) -> str:
        """Servers requiring mutual TLS often just drop a connection without a certificate."""
        dropped = isinstance(last, aiohttp.ClientConnectionError) and not isinstance(last, asyncio.TimeoutError)
        if dropped and call.url.scheme == "https" and self._pool.tls.client_cert is None:
            return (
                "no client certificate is configured (tls.client_cert), and servers requiring one drop the connection"
            )
        return ""


def _outcome(status: int | None, failure: BaseException | None) -> str:
    """For the log line: the status, and what went wrong after it (or instead of it)."""
    if failure is None or isinstance(failure, HttpStatusError):
        return str(status)
    kind = "cancelled" if isinstance(failure, asyncio.CancelledError) else failure_kind(failure)
    return kind if status is None else f"{status} then {kind}"


def _full_url(url: str, params: Mapping[str, str] | None) -> URL:
    parsed = URL(url)
    return parsed.extend_query(params) if params else parsed


def _response(response: aiohttp.ClientResponse, body: bytes) -> Response:
    return Response(response.status, response.reason or "", response.headers, body, str(response.url))


def _check_complete(call: _Call, response: aiohttp.ClientResponse, received: int) -> None:
    """A body shorter than its Content-Length is a broken transfer (only checkable when not re-encoded)."""
    expected = response.content_length
    identity = response.headers.get("Content-Encoding", "identity").lower() == "identity"
    if expected is not None and identity and call.method != "HEAD" and received != expected:
        raise TruncatedBody(call.method, str(call.url), expected, received)


def _excerpt(body: bytes, request: OutgoingRequest) -> str:
    """The start of an error body on one line, without anything we sent as a credential."""
    text = " ".join(body[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace").split())
    for name in _SECRET_HEADERS:
        for value in request.headers.getall(name, []):
            text = text.replace(value, "***")
            if " " in value:
                text = text.replace(value.split(" ", 1)[1], "***")
    return text[:EXCERPT_CHARS] + ("…" if len(text) > EXCERPT_CHARS else "")


def _tls_reason(error: aiohttp.ClientSSLError) -> str:
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        certificate_error = error.certificate_error
        reason = getattr(certificate_error, "verify_message", None) or str(certificate_error)
        return f"the server certificate is not trusted ({reason}); check tls.ca_bundle"
    return describe(error.os_error)


def _client_error_text(error: aiohttp.ClientError) -> str:
    """aiohttp's own messages may embed the full URL (query secrets included): keep the safe parts."""
    if isinstance(error, aiohttp.ClientResponseError):
        return f"{type(error).__name__}: {error.status} {error.message}"
    if isinstance(error, aiohttp.InvalidURL):
        return f"{type(error).__name__}: invalid URL {safe_url(str(error.url))}"
    return type(error).__name__


async def _stream_to_file(call: _Call, response: aiohttp.ClientResponse, destination: Path) -> Download:
    part = await asyncio.to_thread(_PartFile, destination)
    try:
        size = 0
        pending = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
            pending += chunk
            size += len(chunk)
            if len(pending) >= _WRITE_BATCH_BYTES:
                await asyncio.to_thread(part.write, pending)
                pending = bytearray()
        if pending:
            await asyncio.to_thread(part.write, pending)
        _check_complete(call, response, size)
        await asyncio.to_thread(part.commit)
    except BaseException:
        part.discard()
        raise
    return Download(destination, size, response.headers)


class _PartFile:
    """The hidden sibling a download is written to; renamed over the destination only when complete."""

    def __init__(self, destination: Path) -> None:
        descriptor, name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent)
        self._file = os.fdopen(descriptor, "wb")
        self._path = Path(name)
        self._destination = destination

    def write(self, data: bytes | bytearray) -> None:
        self._file.write(data)

    def commit(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())  # the rename must not survive a crash that loses the content
        self._file.close()
        os.replace(self._path, self._destination)

    def discard(self) -> None:
        self._file.close()
        self._path.unlink(missing_ok=True)
