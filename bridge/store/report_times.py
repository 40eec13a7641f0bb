"""Times as the database driver hands them, for the report's large reads: SQLAlchemy's own
processing of each value (SQLite's text parsed into a naive datetime, then made aware by the
report) cost more than the report's arithmetic on it. The report reads the raw value and makes
of it, once, what it needs: an aware UTC datetime, or whole microseconds since the epoch.

SQLite holds the naive UTC text SQLAlchemy wrote (`2026-11-24 12:00:00.000000`); PostgreSQL's
driver gives an aware datetime (in the session's time zone)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

OPEN = -(2**63)  # the microseconds of no time: a stretch still held, a grant with no end
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICRO = timedelta(microseconds=1)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_parse = datetime.fromisoformat


def _text_utc(value: str | None) -> datetime | None:
    return None if value is None else _parse(value + "+00:00")


def _text_micros(value: str | None) -> int:
    return OPEN if value is None else (_parse(value) - _NAIVE_EPOCH) // MICRO


def _aware_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is UTC:
        return value
    return value.astimezone(UTC)


def _aware_micros(value: datetime | None) -> int:
    return OPEN if value is None else (value - EPOCH) // MICRO


@dataclass(frozen=True, slots=True)
class DriverTimes:
    """How one dialect's raw time values become what the report computes with."""

    utc: Callable[[Any], datetime | None]  # None for none
    micros: Callable[[Any], int]  # OPEN for none

    @classmethod
    def of(cls, dialect: str) -> DriverTimes:
        if dialect == "sqlite":
            return cls(_text_utc, _text_micros)
        return cls(_aware_utc, _aware_micros)
