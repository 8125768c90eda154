"""CSD time rules (csd-mev24 §12): what goes out is naive Paris time, what comes in may be anything.

* ``dateRef`` is sent in the naive local form ``yyyy-MM-ddTHH:mm:ss`` (PLATINES insists on it), so
  an aware instant is converted to Europe/Paris wall time first. During the October DST change one
  wall-clock hour happens twice; the naive form cannot say which, and the sync loop's overlap of
  about an hour covers it.
* Received ``record/@updated`` values come naive (mock data), with an offset (real data), with
  fractional seconds, or as a bare date. Naive values are Paris wall time.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

PARIS: Final = ZoneInfo("Europe/Paris")


def paris_naive(instant: dt.datetime) -> str:
    """``dateRef`` text for an aware instant: its Europe/Paris wall time, to the second, no offset."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"dateRef needs an aware datetime, got the naive {instant.isoformat()}")
    return instant.astimezone(PARIS).replace(tzinfo=None, microsecond=0).isoformat(timespec="seconds")


@lru_cache(maxsize=8192)
def parse_datetime(text: str) -> dt.datetime | None:
    """An xs:dateTime (or xs:date) as an aware UTC datetime, or ``None`` when it is not one.

    Cached: a document repeats the same few timestamps thousands of times.
    """
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=PARIS)
    return value.astimezone(dt.UTC)


@lru_cache(maxsize=4096)
def parse_date(text: str) -> dt.date | None:
    """An xs:date; a full dateTime is accepted and cut to its date (the mock sends both)."""
    text = text.strip()
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def paris_midnight(day: dt.date) -> dt.datetime:
    """The UTC instant a Paris calendar day starts (closure dates are days, offer columns instants)."""
    return dt.datetime.combine(day, dt.time(), PARIS).astimezone(dt.UTC)
