"""Users an incident's revoke blocked: who, why, since when, and where their open-ended session
denials were written, so that `unblock` lifts them in the same places."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update

from bridge.model import as_utc
from bridge.schema import blocked_users

if TYPE_CHECKING:
    from bridge.store.engine import Database

# Policy name -> user id -> accounts, as JSON keeps it.
StoredPlacements = dict[str, dict[str, list[str]]]


@dataclass(frozen=True)
class BlockedUser:
    ic_user_id: str
    user_name: str
    blocked_by: str
    reason: str | None
    since: datetime
    placements: StoredPlacements = field(default_factory=dict)


class Blocks:
    def __init__(self, db: Database) -> None:
        self._db = db

    def block(self, user: BlockedUser) -> BlockedUser:
        """Record the block; a user blocked already keeps who, why and since of the first
        revoke, and gains the places this one wrote to. Returns the block as recorded."""
        with self._db.fenced() as conn:
            row = conn.execute(
                select(blocked_users).where(blocked_users.c.ic_user_id == user.ic_user_id)
            ).first()
            if row is None:
                conn.execute(insert(blocked_users).values(**_values(user)))
                return user
            merged = _merged(row.placements, user.placements)
            conn.execute(
                update(blocked_users)
                .where(blocked_users.c.ic_user_id == user.ic_user_id)
                .values(placements=merged)
            )
            return _from_row(row, merged)

    def unblock(self, ic_user_id: str) -> BlockedUser | None:
        """Forget the block; None when the user was not blocked."""
        where = blocked_users.c.ic_user_id == ic_user_id
        with self._db.fenced() as conn:
            row = conn.execute(select(blocked_users).where(where)).first()
            if row is None:
                return None
            conn.execute(delete(blocked_users).where(where))
        return _from_row(row, row.placements)

    def blocked(self) -> dict[str, BlockedUser]:
        with self._db.reading() as conn:
            rows = conn.execute(select(blocked_users)).all()
        return {r.ic_user_id: _from_row(r, r.placements) for r in rows}


def _values(user: BlockedUser) -> dict[str, Any]:
    return {
        "ic_user_id": user.ic_user_id,
        "user_name": user.user_name,
        "blocked_by": user.blocked_by,
        "reason": user.reason,
        "since": user.since,
        "placements": user.placements,
    }


def _merged(old: Mapping[str, Any] | None, new: StoredPlacements) -> StoredPlacements:
    out: StoredPlacements = {
        p: {u: list(a) for u, a in users.items()} for p, users in (old or {}).items()
    }
    for policy, users in new.items():
        for user, accounts in users.items():
            known = out.setdefault(policy, {}).setdefault(user, [])
            known[:] = sorted(set(known) | set(accounts))
    return out


def _from_row(row: Any, placements: Mapping[str, Any] | None) -> BlockedUser:
    return BlockedUser(
        row.ic_user_id,
        row.user_name,
        row.blocked_by,
        row.reason,
        as_utc(row.since),
        dict(placements or {}),
    )
