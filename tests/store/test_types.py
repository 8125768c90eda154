"""The stored text of instants on SQLite: rorsync's fast binding must write exactly SQLAlchemy's."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import DATETIME

from rorsync.store.schema import Timestamp

PARIS_SUMMER = dt.timezone(dt.timedelta(hours=2))


@pytest.mark.parametrize(
    "instant",
    [
        dt.datetime(2025, 1, 28, 9, 37, 15, 731_000, tzinfo=dt.UTC),
        dt.datetime(2025, 7, 1, 0, 30, tzinfo=PARIS_SUMMER),  # the day before in UTC, no fraction
        dt.datetime(1900, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        None,
    ],
)
def test_sqlite_instant_text_is_sqlalchemys(instant: dt.datetime | None) -> None:
    dialect = sqlite.dialect()
    ours = Timestamp.dialect_impl(dialect).bind_processor(dialect)
    sqlalchemys = DATETIME().bind_processor(dialect)
    assert ours is not None and sqlalchemys is not None
    assert ours(instant) == sqlalchemys(Timestamp.process_bind_param(instant, dialect))


def test_naive_instants_are_refused() -> None:
    dialect = sqlite.dialect()
    process = Timestamp.dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    with pytest.raises(ValueError, match="naive datetime"):
        process(dt.datetime(2025, 1, 1))
