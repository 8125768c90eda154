"""The typed failures of the transport: what went wrong, where, and never with a secret in the message.

Every message names the method and the URL with its query secrets redacted (:func:`safe_url`), so the
CLI and the run journal can show ``str(error)`` to an operator as is. Callers branch on the class:
:class:`HttpStatusError` for an answer the server meant (a 404 is data), :class:`RetriesExhausted` for
a server or network that stayed unhealthy, :class:`AuthenticationError` and :class:`TlsError` for
configuration problems that retrying cannot fix.
"""

from __future__ import annotations

from rorsync.transport.redact import safe_url


class TransportError(Exception):
    """Base class: ``str()`` is the complete operator-facing message."""

    @property
    def detail(self) -> str:
        """The message without the request it is about, for wrappers that already name it."""
        return str(self)


class InsecureUrlError(TransportError):
    """A plain ``http://`` URL outside loopback (a token or health data would travel in clear)."""

    def __init__(self, url: str) -> None:
        super().__init__(f"refusing {safe_url(url)}: plain http is only allowed on loopback, use https")
        self.url = safe_url(url)


class TlsError(TransportError):
    """The TLS set-up or handshake failed: unreadable CA bundle or client key, untrusted server, ..."""


class AuthenticationError(TransportError):
    """The token endpoint refused the client, or the API refused a freshly renewed token."""


class HttpStatusError(TransportError):
    """The server answered with an error status (after retries, when the status is retryable)."""

    def __init__(
        self, method: str, url: str, status: int, reason: str, excerpt: str, *, retry_after: float | None = None
    ) -> None:
        self._detail = f"answered {status} {reason}{f': {excerpt}' if excerpt else ''}".rstrip()
        super().__init__(f"{method} {safe_url(url)} {self._detail}")
        self.method = method
        self.url = safe_url(url)
        self.status = status
        self.excerpt = excerpt
        self.retry_after = retry_after  # seconds the server asked us to wait (429/503 only)

    @property
    def detail(self) -> str:
        return self._detail


class TruncatedBody(TransportError):
    """The body ended before its announced ``Content-Length``: a broken connection, worth a retry."""

    def __init__(self, method: str, url: str, expected: int, received: int) -> None:
        self._detail = f"body truncated, {received} of {expected} bytes received"
        super().__init__(f"{method} {safe_url(url)}: {self._detail}")

    @property
    def detail(self) -> str:
        return self._detail


class RetriesExhausted(TransportError):
    """Every attempt failed with a transient error; ``last_error`` is the final one."""

    def __init__(self, method: str, url: str, attempts: int, last_error: BaseException, hint: str = "") -> None:
        cause = describe(last_error)
        suffix = f"; {hint}" if hint else ""
        super().__init__(f"{method} {safe_url(url)} failed after {attempts} attempts: {cause}{suffix}")
        self.url = safe_url(url)
        self.attempts = attempts
        self.last_error = last_error


def describe(error: BaseException) -> str:
    """A one-line description; timeouts often have an empty ``str()``."""
    text = str(error).strip()
    name = type(error).__name__
    if isinstance(error, TransportError):
        return error.detail
    return f"{name}: {text}" if text else name
