"""Process-wide tuning for bulk work, shared by the command line and the parsing worker."""

from __future__ import annotations

import gc


def tune_garbage_collector() -> None:
    """Collect garbage less often than CPython's defaults, for bulk loads.

    A load allocates millions of short-lived, acyclic objects (parsed JSON, records, rows), and the
    default thresholds run a collection every 700 allocations and re-scan the long-lived objects
    often; measured, parsing and mapping an export cost 20 % less CPU with these settings. The
    objects alive at start-up (modules, tables) are frozen out of collection entirely.
    """
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
