"""Which failures are worth another attempt, and how long to wait before it (tenacity does the looping).

Transient: connection errors, timeouts, truncated bodies, and the statuses of an overloaded or
restarting server (429, 500, 502, 503, 504). Everything else — other 4xx, TLS and authentication
problems — fails at once, because retrying cannot change the answer and only delays the operator.

Waits grow exponentially with "equal jitter" (half fixed, half random), so that many clients failing
together spread out, without ever retrying immediately. A ``Retry-After`` on 429/503 replaces the
computed wait, capped at ``backoff_max`` so a hostile or confused server cannot park the daemon.
"""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import Awaitable, Callable
from datetime import UTC

import aiohttp
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random_exponential,
)
from tenacity.wait import wait_base

from rorsync.config import HttpSettings
from rorsync.transport.errors import (
    AuthenticationError,
    HttpStatusError,
    InsecureUrlError,
    RetriesExhausted,
    TlsError,
    TruncatedBody,
)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_AFTER_STATUSES = frozenset({429, 503})

Sleep = Callable[[float], Awaitable[None]]


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP date); None if absent or unusable.

    ``now`` is the wall clock (``time.time()``), needed for the date form. A date in the past means 0.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" parses naive; HTTP dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def is_transient(error: BaseException) -> bool:
    if isinstance(error, HttpStatusError):
        return error.status in RETRYABLE_STATUSES
    if isinstance(error, aiohttp.ClientSSLError):
        return False
    return isinstance(
        error, TruncatedBody | aiohttp.ClientPayloadError | aiohttp.ClientConnectionError | asyncio.TimeoutError
    )


def failure_kind(error: BaseException) -> str:
    """A low-cardinality label for metrics and log lines (see :mod:`rorsync.transport.observer`)."""
    if isinstance(error, RetriesExhausted):
        return failure_kind(error.last_error)
    if isinstance(error, HttpStatusError):
        return f"http_{error.status}"
    if isinstance(error, TlsError | aiohttp.ClientSSLError):
        return "tls"
    if isinstance(error, AuthenticationError):
        return "auth"
    if isinstance(error, InsecureUrlError):
        return "insecure_url"
    if isinstance(error, TruncatedBody | aiohttp.ClientPayloadError):
        return "truncated"
    if isinstance(error, asyncio.TimeoutError):  # before "connection": ServerTimeoutError is both
        return "timeout"
    if isinstance(error, aiohttp.ClientConnectionError):
        return "connection"
    return "error"


class _RetryAfterOrBackoff(wait_base):
    def __init__(self, backoff: wait_base, cap: float) -> None:
        self._backoff = backoff
        self._cap = cap

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, HttpStatusError) and error.retry_after is not None:
            return min(error.retry_after, self._cap)
        return float(self._backoff(retry_state))


def retrying(settings: HttpSettings, sleep: Sleep, before_sleep: Callable[[RetryCallState], None]) -> AsyncRetrying:
    """A fresh retry controller for one call; raises ``tenacity.RetryError`` once attempts run out."""
    initial = settings.backoff_initial.total_seconds()
    ceiling = settings.backoff_max.total_seconds()
    equal_jitter = wait_exponential(multiplier=initial / 2, max=ceiling / 2) + wait_random_exponential(
        multiplier=initial / 2, max=ceiling / 2
    )
    return AsyncRetrying(
        stop=stop_after_attempt(settings.max_attempts),
        wait=_RetryAfterOrBackoff(equal_jitter, ceiling),
        retry=retry_if_exception(is_transient),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=False,
    )
