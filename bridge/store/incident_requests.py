"""Incident requests: a `revoke` or `unblock` queued by a CLI while a service leads the store,
claimed by the leader, and the outcome it recorded, read back by the CLI that waits for it.

A request moves queued -> running -> done, or queued -> cancelled (the CLI gave up waiting, or
its deadline passed before a leader took it), or running -> interrupted (the leader that took it
stopped, and the next leader found it so). Claiming, finishing and interrupting are fenced: only
the current leader performs a request."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from bridge.model import as_utc
from bridge.schema import incident_requests as requests
from bridge.store.engine import inserted_id

if TYPE_CHECKING:
    from bridge.store.engine import Database


@dataclass(frozen=True)
class QueuedRequest:
    id: int
    verb: str  # revoke | unblock
    request: dict[str, Any]
    state: str  # queued | running | done | cancelled | interrupted
    requested_at: datetime
    deadline: datetime
    performed_by: str | None = None
    started_at: datetime | None = None
    exit_code: int | None = None
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class RequestOutcome:
    exit_code: int
    done: Sequence[str] = ()
    failed: Sequence[str] = ()
    error: str | None = None  # a config or usage error (exit 2)


class IncidentRequests:
    def __init__(self, db: Database) -> None:
        self._db = db

    def queue(
        self,
        verb: str,
        request: Mapping[str, Any],
        requested_by: str,
        now: datetime,
        deadline: datetime,
    ) -> int:
        """Any process may queue (it is not the leader: that is why it queues)."""
        values = {
            "verb": verb,
            "request": dict(request),
            "state": "queued",
            "requested_at": now,
            "deadline": deadline,
            "requested_by": requested_by,
        }
        with self._db.writing() as conn:
            return inserted_id(conn.execute(insert(requests).values(**values)))

    def request(self, request_id: int) -> QueuedRequest | None:
        with self._db.reading() as conn:
            row = conn.execute(select(requests).where(requests.c.id == request_id)).first()
        return None if row is None else _from_row(row)

    def cancel(self, request_id: int, now: datetime) -> bool:
        """Withdraw a request no leader has taken yet; False when one has."""
        where = (requests.c.id == request_id) & (requests.c.state == "queued")
        with self._db.writing() as conn:
            moved = conn.execute(
                update(requests).where(where).values(state="cancelled", finished_at=now)
            )
        return bool(moved.rowcount)

    def claim(self, holder: str, now: datetime) -> QueuedRequest | None:
        """The oldest queued request, now running under `holder`; those whose deadline passed
        untaken are cancelled on the way (their CLI has stopped waiting)."""
        # Asked every tick: a read, not a write transaction, while nothing is queued.
        with self._db.reading() as conn:
            queued = select(requests.c.id).where(requests.c.state == "queued").limit(1)
            if conn.execute(queued).first() is None:
                return None
        with self._db.fenced() as conn:
            stale = (requests.c.state == "queued") & (requests.c.deadline < now)
            conn.execute(update(requests).where(stale).values(state="cancelled", finished_at=now))
            q = select(requests).where(requests.c.state == "queued").order_by(requests.c.id)
            row = conn.execute(q.limit(1)).first()
            if row is None:
                return None
            taken = conn.execute(
                update(requests)
                .where(requests.c.id == row.id, requests.c.state == "queued")
                .values(state="running", performed_by=holder, started_at=now)
            ).rowcount
        if not taken:
            return None  # the CLI cancelled it between the read and the update
        return _from_row(row, state="running", performed_by=holder, started_at=now)

    def finish(self, request_id: int, outcome: RequestOutcome, now: datetime) -> None:
        values = {
            "state": "done",
            "finished_at": now,
            "exit_code": outcome.exit_code,
            "done": list(outcome.done),
            "failed": list(outcome.failed),
            "error": outcome.error,
        }
        where = (requests.c.id == request_id) & (requests.c.state == "running")
        with self._db.fenced() as conn:
            conn.execute(update(requests).where(where).values(**values))

    def interrupt_running(self, now: datetime) -> int:
        """Requests an earlier leader took and never finished (a new leader, on taking over)."""
        with self._db.fenced() as conn:
            where = requests.c.state == "running"
            return conn.execute(
                update(requests).where(where).values(state="interrupted", finished_at=now)
            ).rowcount


def _from_row(row: Any, **changed: Any) -> QueuedRequest:
    values = {**row._mapping, **changed}
    return QueuedRequest(
        id=values["id"],
        verb=values["verb"],
        request=dict(values["request"] or {}),
        state=values["state"],
        requested_at=as_utc(values["requested_at"]),
        deadline=as_utc(values["deadline"]),
        performed_by=values["performed_by"],
        started_at=as_utc(values["started_at"]),
        exit_code=values["exit_code"],
        done=list(values["done"] or []),
        failed=list(values["failed"] or []),
        error=values["error"],
    )
