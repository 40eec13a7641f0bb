"""What the bridge holds in Identity Center and every change it made there: an intent before
each AWS call, its outcome after, so a crash in between is never mistaken for nothing done."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from bridge.model import Binding, Change
from bridge.ports import ADDING
from bridge.schema import changes, holdings
from bridge.store.engine import inserted_id
from bridge.store.rows import HOLDING_COLUMNS, Holding, RowReader, holdings_from

if TYPE_CHECKING:
    from bridge.store.engine import Database


class Changes:
    def __init__(self, db: Database) -> None:
        self._db = db

    def holdings(self) -> dict[Binding, Holding]:
        with self._db.reading() as conn:
            rows = conn.execute(select(*HOLDING_COLUMNS))
            return {h.binding: h for h in holdings_from(rows)}

    def holding(self, binding: Binding) -> Holding | None:
        """One binding's holding, as a write just left it (the bridge's view reads it back)."""
        with self._db.reading() as conn:
            row = conn.execute(select(*HOLDING_COLUMNS).where(*_holding(binding))).first()
        return None if row is None else RowReader().holding(row)

    def record_intent(self, cycle_id: int | None, change: Change, now: datetime) -> int:
        """Before the AWS call. An addition is held from here on (state `adding`): a crash
        before its outcome must not leave access the ledger does not know it may have made."""
        with self._db.fenced() as conn:
            result = conn.execute(
                insert(changes).values(
                    cycle_id=cycle_id,
                    op=change.op,
                    ic_user_id=change.binding.ic_user_id,
                    user_name=change.user_name,
                    target_key=change.binding.target_key,
                    mapping=change.mapping,
                    reason=str(change.reason),
                    status="intent",
                    intent_at=now,
                )
            )
            if change.op == "add":
                _hold_if_new(conn, change, now)
            return inserted_id(result)

    def record_outcome(
        self,
        change_id: int,
        change: Change,
        now: datetime,
        error: str | None = None,
        *,
        unsettled: bool = False,
    ) -> None:
        # Not fenced: the call it records has been made, and a deposed leader's knowledge of
        # what it did to AWS is worth more to its successor than a clean epoch.
        where = _holding(change.binding)
        with self._db.writing() as conn:
            conn.execute(
                update(changes)
                .where(changes.c.id == change_id)
                .values(status="failed" if error else "ok", error=error, outcome_at=now)
            )
            if change.op == "remove":
                if error:
                    conn.execute(
                        update(holdings)
                        .where(*where)
                        .values(state="remove_failed", last_error=error)
                    )
                else:
                    conn.execute(delete(holdings).where(*where))
            elif error and unsettled:
                # Kept unconfirmed: AWS may have made it (a request that timed out while it
                # ran), so it is read back or removed at its end, never forgotten.
                conn.execute(
                    update(holdings)
                    .where(*where, holdings.c.state == ADDING)
                    .values(last_error=error)
                )
            elif error:
                # This call did nothing; a holding an earlier attempt left in doubt (it timed
                # out, or a crash cut it off) still may have, and stays until it is read back.
                conn.execute(
                    delete(holdings).where(
                        *where, holdings.c.state == ADDING, holdings.c.last_error.is_(None)
                    )
                )
            else:
                conn.execute(
                    update(holdings)
                    .where(*where, holdings.c.state == ADDING)
                    .values(state="held", since=now)
                )

    def unconfirmed(self) -> list[Binding]:
        """Additions whose outcome a stop cut off: they may or may not exist in AWS."""
        with self._db.reading() as conn:
            rows = conn.execute(
                select(holdings.c.ic_user_id, holdings.c.target_key).where(
                    holdings.c.state == ADDING
                )
            ).all()
        return [Binding.of(r[0], r[1]) for r in rows]

    def confirm(self, binding: Binding) -> None:
        """An unconfirmed addition that AWS now lists: held like any other."""
        where = (*_holding(binding), holdings.c.state == ADDING)
        with self._db.fenced() as conn:
            conn.execute(update(holdings).where(*where).values(state="held"))

    def release(self, binding: Binding) -> None:
        """Forget a holding that is already gone from Identity Center (removed out of band)."""
        with self._db.fenced() as conn:
            conn.execute(delete(holdings).where(*_holding(binding)))

    def mark_interrupted(self, now: datetime) -> int:
        """Intents with no outcome were cut off by a crash: say so; the next cycle re-plans."""
        with self._db.fenced() as conn:
            result = conn.execute(
                update(changes)
                .where(changes.c.status == "intent")
                .values(status="interrupted", outcome_at=now)
            )
            return int(result.rowcount or 0)

    def changes_since(self, since: datetime) -> list[dict[str, Any]]:
        with self._db.reading() as conn:
            rows = conn.execute(
                select(changes).where(changes.c.intent_at >= since).order_by(changes.c.id)
            ).all()
        return [dict(r._mapping) for r in rows]


def _hold_if_new(conn: Connection, change: Change, now: datetime) -> None:
    b = change.binding
    if conn.execute(select(func.count()).select_from(holdings).where(*_holding(b))).scalar():
        # Still `adding` at a new attempt: the earlier one timed out or a crash cut it off,
        # so it may have taken effect whatever becomes of this one.
        conn.execute(
            update(holdings)
            .where(*_holding(b), holdings.c.state == ADDING, holdings.c.last_error.is_(None))
            .values(last_error="an earlier attempt's outcome is unknown")
        )
        return
    conn.execute(
        insert(holdings).values(
            ic_user_id=b.ic_user_id,
            target_key=b.target_key,
            user_name=change.user_name or b.ic_user_id,
            since=now,
            state=ADDING,
        )
    )


def _holding(binding: Binding) -> tuple[Any, Any]:
    return (
        holdings.c.ic_user_id == binding.ic_user_id,
        holdings.c.target_key == binding.target_key,
    )
