"""Prometheus metrics, defined once and updated where the events happen.

The service exposes them on ``/metrics``; the CLI's foreground runs update them too (harmlessly).
Label values are bounded: sources, entities, operations, run kinds and statuses, HTTP status classes.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

RECORDS_RECEIVED = Counter(
    "rorsync_records_received", "Objects received from a source", ["source", "entity"], registry=REGISTRY
)
RECORDS_WRITTEN = Counter(
    "rorsync_records_written",
    "Objects written to the mirror (insert, update, restore, tombstone, purge) or refused (unchanged, stale)",
    ["source", "entity", "op"],
    registry=REGISTRY,
)
RECORDS_QUARANTINED = Counter(
    "rorsync_records_quarantined", "Objects that could not be mapped and were kept aside", ["source"], registry=REGISTRY
)
CAPACITY_CHANGES = Counter(
    "rorsync_capacity_changes", "Capacity values that changed (history rows)", ["source"], registry=REGISTRY
)
HTTP_REQUESTS = Counter(
    "rorsync_http_requests", "HTTP requests by response status class", ["source", "status"], registry=REGISTRY
)
HTTP_RETRIES = Counter("rorsync_http_retries", "HTTP retries by reason", ["source", "reason"], registry=REGISTRY)
HTTP_FAILURES = Counter(
    "rorsync_http_failures",
    "HTTP calls that failed for good (retries exhausted or not retryable), by kind",
    ["source", "kind"],
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "rorsync_http_request_seconds",
    "HTTP request duration",
    ["source"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)
RUN_SECONDS = Histogram(
    "rorsync_run_seconds",
    "Sync run duration by kind and outcome",
    ["source", "kind", "status"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600),
    registry=REGISTRY,
)
LAST_SUCCESS = Gauge(
    "rorsync_last_success_timestamp_seconds", "End of the last successful run", ["source", "kind"], registry=REGISTRY
)
CURSOR_LAG = Gauge(
    "rorsync_cursor_lag_seconds", "Now minus the cursor of each stream", ["source", "stream"], registry=REGISTRY
)
CAPACITY_FRESHNESS = Gauge(
    "rorsync_capacity_newest_update_age_seconds",
    "Age of the most recently updated capacity value in the mirror",
    ["source"],
    registry=REGISTRY,
)


def status_class(status: int | None) -> str:
    """``200`` → ``2xx``; no response at all (reset, timeout) → ``none``."""
    return "none" if status is None else f"{status // 100}xx"


class MetricsObserver:
    """The transport's observer protocol (``on_request``, ``on_retry``, ``on_error``) as metrics.

    The transport stays free of any metrics library; every engine hands it one of these.
    """

    def on_request(self, source: str, method: str, host: str, status: int | None, seconds: float) -> None:
        HTTP_REQUESTS.labels(source, status_class(status)).inc()
        HTTP_SECONDS.labels(source).observe(seconds)

    def on_retry(self, source: str, reason: str) -> None:
        HTTP_RETRIES.labels(source, reason).inc()

    def on_error(self, source: str, kind: str) -> None:
        HTTP_FAILURES.labels(source, kind).inc()
