"""The metrics seam: the transport reports what happened, the service decides how to export it.

Kept free of any metrics library so the transport can be used (and tested) alone; the service wraps
Prometheus counters and histograms in an object with these three methods. Label values are chosen
with low cardinality in mind: the host, never the full URL; a fixed vocabulary of reasons and kinds
(:func:`rorsync.transport.retry.failure_kind`): ``connection``, ``timeout``, ``truncated``, ``tls``,
``auth``, ``insecure_url``, ``http_<status>``, ``error``.
"""

from __future__ import annotations

from typing import Protocol


class TransportObserver(Protocol):
    def on_request(self, source: str, method: str, host: str, status: int | None, seconds: float) -> None:
        """One HTTP exchange finished; ``status`` is None when no response arrived (reset, timeout...)."""

    def on_retry(self, source: str, reason: str) -> None:
        """A transient failure of kind ``reason`` is about to be retried after a back-off."""

    def on_error(self, source: str, kind: str) -> None:
        """A call failed for good (retries exhausted, or a failure retrying cannot fix)."""


class NullObserver:
    """The default: observes nothing."""

    def on_request(self, source: str, method: str, host: str, status: int | None, seconds: float) -> None:
        pass

    def on_retry(self, source: str, reason: str) -> None:
        pass

    def on_error(self, source: str, kind: str) -> None:
        pass
