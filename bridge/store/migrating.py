"""Which migration a store's schema is at, read without Alembic, and the upgrade to this
version's. Most opens find the schema at head already, and Alembic with its scripts costs some
10 MB of memory and a second of start-up: it is loaded only when there is something to do."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

VERSION_TABLE = "alembic_version"  # Alembic's default, which bridge/migrations/env.py keeps


def head() -> str:
    """This version's newest revision. Each migration's revision is its file's four-digit
    number (tests/unit/test_migrations.py holds them to it), so the newest file names it."""
    versions = resources.files("bridge") / "migrations" / "versions"
    return max(p.name[:4] for p in versions.iterdir() if p.name[:4].isdigit())


def current(conn: Connection) -> set[str]:
    """The revisions the store's schema is at: none for a store not yet migrated."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return set()
    return set(conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())


def at_head(conn: Connection) -> bool:
    return current(conn) == {head()}


def upgrade(conn: Connection) -> None:
    """Migrate the schema to head within `conn`'s transaction."""
    from alembic import command

    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


def alembic_config() -> AlembicConfig:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("bridge") / "migrations"))
    return cfg
