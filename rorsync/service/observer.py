"""Transport events into Prometheus metrics.

The transport reports through a small observer protocol (``on_request``, ``on_retry``,
``on_error``) and stays free of any metrics library; this is the implementation the service hands
it. Labels stay low-cardinality: the source, a status class, the transport's fixed reason kinds.
"""

from __future__ import annotations

from rorsync import metrics


def status_class(status: int | None) -> str:
    """``200`` → ``2xx``; no response at all (reset, timeout) → ``none``."""
    return "none" if status is None else f"{status // 100}xx"


class MetricsObserver:
    def on_request(self, source: str, method: str, host: str, status: int | None, seconds: float) -> None:
        metrics.HTTP_REQUESTS.labels(source, status_class(status)).inc()
        metrics.HTTP_SECONDS.labels(source).observe(seconds)

    def on_retry(self, source: str, reason: str) -> None:
        metrics.HTTP_RETRIES.labels(source, reason).inc()

    def on_error(self, source: str, kind: str) -> None:
        metrics.HTTP_FAILURES.labels(source, kind).inc()
