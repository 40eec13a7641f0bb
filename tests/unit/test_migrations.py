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


def test_each_migration_is_named_after_its_revision_so_the_newest_file_names_the_head() -> None:
    from alembic.script import ScriptDirectory

    from bridge.store.migrating import alembic_config, head

    scripts = ScriptDirectory.from_config(alembic_config())
    for script in scripts.walk_revisions():
        assert script.path is not None
        assert Path(script.path).name.startswith(script.revision + "_"), script.path
    assert scripts.get_heads() == [head()]


def test_a_store_one_migration_behind_is_brought_to_head_on_open(tmp_path: Path) -> None:
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'l.db'}"
    Ledger(url).close()
    older = Ledger(url)
    with older.engine.begin() as conn:  # as the previous version left it
        conn.execute(text("DROP TABLE incident_requests"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0010'"))
    older.close()
    again = Ledger(url)
    assert again.at_head()
    assert inspect(again.engine).has_table("incident_requests")
