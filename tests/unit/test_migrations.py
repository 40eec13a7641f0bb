"""The Alembic migrations build exactly the tables the code uses."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from bridge.schema import metadata
from bridge.store import Ledger


def test_migrations_build_every_table_and_column_the_code_uses(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    found = inspect(ledger.engine)
    for table in metadata.sorted_tables:
        columns = {c["name"] for c in found.get_columns(table.name)}
        assert columns == {c.name for c in table.columns}, table.name


def test_opening_twice_migrates_once_and_keeps_data(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    url = f"sqlite:///{tmp_path / 'l.db'}"
    first = Ledger(url)
    first.start_cycle("sync", datetime.now(UTC))
    first.close()
    again = Ledger(url)
    assert again.last_cycle() is not None
