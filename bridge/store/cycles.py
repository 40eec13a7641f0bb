"""Cycles: one row per poll, drift sweep, expiry or sync, with its status and summary."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from bridge.schema import cycles
from bridge.store.engine import inserted_id

if TYPE_CHECKING:
    from bridge.store.engine import Database


class Cycles:
    def __init__(self, db: Database) -> None:
        self._db = db

    def start_cycle(self, kind: str, now: datetime) -> int:
        with self._db.fenced() as conn:
            result = conn.execute(insert(cycles).values(kind=kind, started_at=now))
            return inserted_id(result)

    def finish_cycle(
        self, cycle_id: int, now: datetime, status: str, summary: dict[str, Any]
    ) -> None:
        with self._db.writing() as conn:
            conn.execute(
                update(cycles)
                .where(cycles.c.id == cycle_id)
                .values(
                    ended_at=now,
                    status=status,
                    summary=summary,
                    read_groups=summary.get("read_groups"),
                )
            )

    def last_cycle(
        self,
        status: str | None = None,
        kinds: Sequence[str] = (),
        *,
        finished: bool = False,
        read_graph: bool = False,
    ) -> dict[str, Any] | None:
        """The latest cycle of `status` and `kinds`; `read_graph`: only one that read PIM state
        from Graph (an expiry judged from the ledger alone does not count)."""
        q = select(cycles).order_by(cycles.c.id.desc()).limit(1)
        if finished:
            q = q.where(cycles.c.ended_at.is_not(None))
        if read_graph:
            q = q.where(cycles.c.read_groups > 0)
        if status:
            q = q.where(cycles.c.status == status)
        if kinds:
            q = q.where(cycles.c.kind.in_(kinds))
        with self._db.reading() as conn:
            row = conn.execute(q).first()
        return dict(row._mapping) if row else None
