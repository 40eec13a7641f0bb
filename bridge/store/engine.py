"""The store's database: the engine (SQLite or PostgreSQL), its pragmas, the schema migrated by
Alembic on open, and the three ways in: a read, a write, and a fenced write."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from typing import Any, TypeAlias

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import CursorResult, Engine, Row, create_engine, event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import StaticPool

from bridge.errors import ConfigError
from bridge.store.leadership import check_epoch

MIGRATION_LOCK = 0x70696D_6D696772  # "pim" "migr": any constant, distinct from the leader's
# A row of any width: the tables are untyped Core tables, so every column reads as Any.
AnyRow: TypeAlias = "Row[*tuple[Any, ...]]"


class Database:
    """One engine and the write discipline every part of the store shares."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, **_engine_options(url))
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        # SQLite allows one writer; serialise our own writers instead of retrying "locked".
        self._write_lock = threading.RLock()
        self.epoch: int | None = None  # set on taking leadership: fenced writes check it
        if migrate:
            try:
                self.migrate()
            except OperationalError as exc:
                # The URL is the user's; say which key and why, without a driver traceback.
                raise ConfigError("store.url", f"cannot open the store: {exc.orig}") from None

    def migrate(self) -> None:
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(resources.files("bridge") / "migrations"))
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Replicas starting together must not migrate at the same time.
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One transaction, committed on leaving, that any replica may make."""
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def fenced(self) -> Iterator[Connection]:
        """One transaction that only the current leader may make: raises `Fenced`, having
        written nothing, once another replica has taken the epoch."""
        with self.writing() as conn:
            check_epoch(conn, self.epoch)
            yield conn


def database_name(url: str) -> str | None:
    """The database a store URL names: for SQLite, its file (or `:memory:`)."""
    return make_url(url).database


def inserted_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None, "an INSERT of one row"
    return int(key[0])


def chunks(items: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    # Well under SQLite's bound-parameter limit, whatever the build.
    return (items[i : i + size] for i in range(0, len(items), size))


def _engine_options(url: str) -> dict[str, Any]:
    if not url.startswith("sqlite"):
        return {"pool_pre_ping": True}
    options: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if url in ("sqlite://", "sqlite:///:memory:"):
        options["poolclass"] = StaticPool
    return options


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
