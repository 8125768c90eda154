"""Instants of the world: integer microseconds since the epoch inside, FHIR text outside.

The store compares and sorts integers (exact, index-friendly); resources carry the text form with the
Europe/Paris offset and millisecond precision, as the national HAPI server writes ``meta.lastUpdated``,
so that clients are exercised on offsets rather than on a tidy ``Z``.
"""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MICROS_PER_SECOND = 1_000_000


def now_micros() -> int:
    return time.time_ns() // 1000


def to_micros(moment: dt.datetime) -> int:
    """A timezone-aware datetime as microseconds since the epoch (naive input is refused)."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()} has no timezone")
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


def from_micros(micros: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=micros)


def fhir_instant(micros: int) -> str:
    """``2024-07-29T10:12:13.456+02:00``: Paris wall time, milliseconds, explicit offset."""
    return from_micros(micros).astimezone(PARIS).isoformat(timespec="milliseconds")


def fhir_date(micros: int) -> str:
    return from_micros(micros).astimezone(PARIS).date().isoformat()


def parse_instant(text: str) -> int:
    """FHIR ``instant``/``dateTime`` text with an offset → microseconds (a naive value is read as Paris time)."""
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=PARIS)
    return to_micros(moment)


def truncate_to_millis(micros: int) -> int:
    """What survives a round trip through :func:`fhir_instant`: served timestamps have millisecond precision."""
    return micros - micros % 1000
