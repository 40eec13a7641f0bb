"""The report from a PostgreSQL ledger: its driver hands times as aware datetimes in the
session's time zone where SQLite hands text, and every format reads the same as from SQLite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.report import FORMATS
from bridge.store import Ledger
from tests.postgres import fresh_database
from tests.unit import busy_ledger
from tests.unit.test_report_stream import FIXTURES, normalised, report_of

# Not UTC, so a time the report failed to bring to UTC would show.
BERLIN = "?options=-c%20timezone%3DEurope%2FBerlin"


@pytest.fixture(scope="module")
def busy(pg_server: str) -> Iterator[Ledger]:
    ledger = Ledger(fresh_database(pg_server, "report_busy") + BERLIN)
    busy_ledger.build(ledger)
    yield ledger
    ledger.close()


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_of_a_busy_postgresql_ledger_reads_as_from_sqlite(
    busy: Ledger, fmt: str
) -> None:
    expected = (FIXTURES / f"busy.{fmt}").read_bytes().decode("utf-8")
    assert normalised(report_of(busy, fmt)) == expected
