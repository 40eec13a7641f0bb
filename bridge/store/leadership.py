"""Who leads: the epoch in the `leader` table that fences every earlier leader's writes, and the
PostgreSQL session advisory lock replicas elect a leader with (bridge/leader.py)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from bridge.errors import BridgeError
from bridge.schema import leader

if TYPE_CHECKING:
    from bridge.store.engine import Database

log = logging.getLogger(__name__)


class Fenced(BridgeError):
    """This process is no longer the leader: another replica took over. Nothing was written."""


def check_epoch(conn: Connection, epoch: int | None) -> None:
    """Compare-and-set on the epoch, inside the writing transaction (FOR SHARE on
    PostgreSQL: a new leader's bump waits for this write, or this write sees the bump)."""
    if epoch is None:
        return
    current = conn.execute(
        select(leader.c.epoch).where(leader.c.id == 1).with_for_update(read=True)
    ).scalar()
    if current != epoch:
        raise Fenced(f"leadership lost: epoch {epoch} is not current ({current})")


class Leadership:
    def __init__(self, db: Database) -> None:
        self._db = db

    def take_leadership(self, holder: str, now: datetime) -> int:
        """Bump the epoch: from now on, writes of any earlier leader are refused."""
        with self._db.writing() as conn:
            row = conn.execute(
                select(leader.c.epoch).where(leader.c.id == 1).with_for_update()
            ).first()
            epoch = (row.epoch if row else 0) + 1
            if row:
                conn.execute(
                    update(leader)
                    .where(leader.c.id == 1)
                    .values(epoch=epoch, holder=holder, since=now)
                )
            else:
                conn.execute(insert(leader).values(id=1, epoch=epoch, holder=holder, since=now))
        self._db.epoch = epoch
        return epoch

    def current_leader(self) -> dict[str, Any] | None:
        with self._db.reading() as conn:
            row = conn.execute(select(leader).where(leader.c.id == 1)).first()
        return dict(row._mapping) if row else None


class AdvisoryLock:
    """A PostgreSQL session advisory lock on a connection of its own with short TCP keepalives:
    held exactly as long as that connection lives, so a killed holder's lock goes when
    PostgreSQL notices the dead socket."""

    def __init__(self, url: str, key: int, keepalive_seconds: int, application_name: str) -> None:
        self._key = key
        self._engine = create_engine(
            url,
            poolclass=NullPool,
            connect_args={
                "keepalives": 1,
                "keepalives_idle": keepalive_seconds,
                "keepalives_interval": 1,
                "keepalives_count": 3,
                "application_name": application_name,
            },
        )
        self._conn: Connection | None = None

    def try_lock(self) -> bool:
        """True when this session holds the lock now. Raises when the database is unreachable,
        the connection dropped."""
        try:
            if self._conn is None:
                self._conn = self._engine.connect()
            got = self._conn.execute(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}
            ).scalar()
            self._conn.commit()
        except Exception:
            self._drop()
            raise
        return bool(got)

    def alive(self) -> bool:
        """The session (and so any lock it holds) still exists."""
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1")).scalar()
            self._conn.commit()
            return True
        except Exception:
            self._drop()
            return False

    def unlock(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            self._conn.commit()
        except Exception:
            log.debug("unlock on a dead connection", exc_info=True)

    def close(self) -> None:
        self._drop()
        self._engine.dispose()

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except Exception:
                log.debug("closing a dead lock connection", exc_info=True)
            self._conn = None
