"""The store's database: the engine (SQLite or PostgreSQL), its pragmas, the schema migrated by
Alembic on open, and the three ways in: a read, a write, and a fenced write. A SQLite file that
cannot be written can still be read as a snapshot (`snapshot_url`), and `store_failure` says in
one line what went wrong when the database itself fails."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeAlias

from sqlalchemy import CursorResult, Engine, Row, create_engine, event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from bridge.errors import ConfigError
from bridge.store import migrating
from bridge.store.leadership import check_epoch

MIGRATION_LOCK = 0x70696D_6D696772  # "pim" "migr": any constant, distinct from the leader's
# A row of any width: the tables are untyped Core tables, so every column reads as Any.
AnyRow: TypeAlias = "Row[*tuple[Any, ...]]"


class Database:
    """One engine and the write discipline every part of the store shares."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, **_engine_options(url))
        if url.startswith("sqlite") and not is_snapshot(url):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        # SQLite allows one writer; serialise our own writers instead of retrying "locked".
        self._write_lock = threading.RLock()
        self.epoch: int | None = None  # set on taking leadership: fenced writes check it
        if migrate:
            try:
                self.migrate()
            except DBAPIError as exc:
                # The URL is the user's; say which key and why, without a driver traceback
                # (a corrupt file, a missing or read-only directory).
                raise ConfigError("store.url", f"cannot open the store: {_why(url, exc)}") from None

    def migrate(self) -> None:
        with self.engine.connect() as conn:
            if migrating.at_head(conn):
                return
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Replicas starting together must not migrate at the same time.
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
            migrating.upgrade(conn)

    def at_head(self) -> bool:
        """Whether the schema is this version's, without migrating (a snapshot cannot be)."""
        try:
            with self.engine.connect() as conn:
                return migrating.at_head(conn)
        except DBAPIError as exc:
            why = _why(self.url, exc)
            raise ConfigError("store.url", f"cannot read the store: {why}") from None

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


def snapshot_url(url: str) -> str | None:
    """A URL reading the SQLite file of `url` as an unchanging snapshot, read-only: SQLite
    cannot otherwise open a WAL database it may not write (its -shm file must be created).
    None for PostgreSQL, an in-memory store, or a file that is not there to read."""
    database = database_name(url)
    if not url.startswith("sqlite") or not database or database == ":memory:":
        return None
    if database.startswith("file:") or not os.access(database, os.R_OK):
        return None
    return f"sqlite:///file:{os.path.abspath(database)}?mode=ro&immutable=1&uri=true"


def is_snapshot(url: str) -> bool:
    return "immutable=1" in url


def store_failure(exc: BaseException) -> str | None:
    """One line saying how the database failed (a corrupt file, a full disk, a lost
    connection), or None when `exc` is not the database failing."""
    if isinstance(exc, DBAPIError):
        return str(exc.orig).splitlines()[0] if str(exc.orig) else type(exc.orig).__name__
    if isinstance(exc, SQLAlchemyError):
        return str(exc).splitlines()[0]
    return None


def inserted_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None, "an INSERT of one row"
    return int(key[0])


def chunks(items: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    # Well under SQLite's bound-parameter limit, whatever the build.
    return (items[i : i + size] for i in range(0, len(items), size))


def _why(url: str, exc: DBAPIError) -> str:
    """The driver's reason, and for a SQLite file what about its directory explains it."""
    reason = store_failure(exc) or "failed"
    database = database_name(url)
    if not url.startswith("sqlite") or not database or database.startswith(("file:", ":")):
        return reason
    folder = os.path.dirname(os.path.abspath(database))
    if not os.path.isdir(folder):
        return f"{reason} (the directory {folder} does not exist)"
    if not os.access(folder, os.W_OK):
        return f"{reason} (the directory {folder} is not writable)"
    return reason


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
