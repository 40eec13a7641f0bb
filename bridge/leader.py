"""Leader election for several replicas, and the fence that keeps a deposed leader harmless.

PostgreSQL: the leader holds a session advisory lock on a dedicated connection with short TCP
keepalives, so the lock is released within seconds of the leader's death and a standby takes
over. Each new leader bumps an epoch in the ledger (`leader` table); every change intent is
written only if the writer's epoch is still the current one (compare-and-set in the same
transaction). A leader that was paused, lost its lock and wakes up late therefore cannot apply
or record anything: its next intent is refused before any AWS call.

SQLite: one replica only. A second process on the same database file is refused with a clear
error (an exclusive file lock beside the database).
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bridge.errors import ConfigError
from bridge.ports import Election
from bridge.store import AdvisoryLock, database_name

log = logging.getLogger(__name__)

# Any constant 64-bit key: the same for every replica of one deployment (one database).
LOCK_KEY = 0x70696D_62726467  # "pim" "brdg"


class StoreLed(ConfigError):
    """A service leads the store: a one-shot writer is refused (`sync`), or hands its work to
    that leader (`revoke`, `unblock`)."""


def replica_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class SingleReplica:
    """SQLite: leadership is the exclusive right to the database file."""

    def __init__(self, url: str) -> None:
        database = database_name(url)
        self._fd: int | None = None
        if not database or database == ":memory:":
            return
        path = Path(database).with_name(Path(database).name + ".lock")
        try:
            self._fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        except OSError as exc:
            # The store's directory is missing or read-only: a writer cannot use it.
            raise ConfigError("store.url", f"cannot open {path}: {exc.strerror}") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            raise StoreLed(
                "store.url",
                f"another pim-bridge already uses {database}; SQLite allows one replica, "
                "use postgresql+psycopg://… for several",
            ) from None

    def try_acquire(self) -> bool:
        return True

    def still_leader(self) -> bool:
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class PostgresElection:
    """A session advisory lock on its own connection: held exactly as long as that connection
    lives, so a killed leader's lock goes when PostgreSQL notices the dead socket."""

    def __init__(self, url: str, keepalive_seconds: int = 5) -> None:
        self._db_lock = AdvisoryLock(url, LOCK_KEY, keepalive_seconds, "pim-bridge-leader")
        self._leader = False
        self._lock = threading.Lock()

    def try_acquire(self) -> bool:
        with self._lock:
            if self._leader and self._db_lock.alive():
                return True
            self._leader = False
            try:
                self._leader = self._db_lock.try_lock()
            except Exception as exc:  # the database is unreachable: we are not the leader
                log.warning("leader election: %s", exc.__class__.__name__)
                return False
            return self._leader

    def still_leader(self) -> bool:
        with self._lock:
            if not self._leader:
                return False
            if not self._db_lock.alive():
                self._leader = False
            return self._leader

    def release(self) -> None:
        with self._lock:
            if self._leader:
                self._db_lock.unlock()
            self._leader = False
            self._db_lock.close()


@contextmanager
def writer_lock(url: str, *, enabled: bool = True) -> Iterator[None]:
    """Hold the leader's right for a one-shot writer (`sync`): refused, naming why, while a
    service leads the same store, so two processes never apply changes at once."""
    if not enabled:
        yield
        return
    election = election_for(url)
    try:
        if not election.try_acquire():
            raise StoreLed(
                "store.url",
                "a pim-bridge service leads this store; a second writer is refused "
                "(use `sync --dry-run` to see the plan)",
            )
        yield
    finally:
        election.release()


def election_for(url: str) -> Election:
    if url.startswith("sqlite"):
        return SingleReplica(url)
    return PostgresElection(url)
