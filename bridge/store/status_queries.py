"""The reads of `pim-bridge status` (bridge/status/): who holds what now and why, from the ledger
alone, on one connection so the holdings, grants and denials it shows agree with each other."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from bridge.model import Grant, as_utc
from bridge.schema import blocked_users, cycles, denials, findings, grants, holdings
from bridge.store.engine import AnyRow
from bridge.store.rows import GRANT_COLUMNS, HOLDING_COLUMNS, Holding, grants_from, holdings_from


class StatusReader:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def holdings(self) -> list[Holding]:
        return holdings_from(self._conn.execute(select(*HOLDING_COLUMNS)))

    def live_grants(self) -> list[Grant]:
        q = select(*GRANT_COLUMNS).where(grants.c.state == "live")
        return grants_from(self._conn.execute(q))

    def last_grants(self, user_ids: Sequence[str]) -> list[Grant]:
        """Every user's grants that ended, newest end last: what a holding left behind was for."""
        if not user_ids:
            return []
        q = (
            select(*GRANT_COLUMNS)
            .where(grants.c.state == "ended", grants.c.ic_user_id.in_(sorted(set(user_ids))))
            .order_by(grants.c.ended_at, grants.c.id)
        )
        return grants_from(self._conn.execute(q))

    def user_names(self) -> dict[str, str]:
        """Identity Center user id -> the name the ledger knows it by (grants, then holdings)."""
        names = {
            r[0]: r[1]
            for r in self._conn.execute(select(holdings.c.ic_user_id, holdings.c.user_name))
        }
        q = select(grants.c.ic_user_id, grants.c.user_name).distinct()
        names.update({r[0]: r[1] for r in self._conn.execute(q)})
        return names

    def mappings(self) -> set[str]:
        """Every mapping the ledger has a grant of."""
        return {r[0] for r in self._conn.execute(select(grants.c.mapping).distinct())}

    def denials_since(self, since: datetime) -> list[AnyRow]:
        """Denial rows recorded for revocations from `since` on, or armed to take effect from
        then on, oldest first."""
        q = select(denials).where(denials.c.at >= since).order_by(denials.c.id)
        return list(self._conn.execute(q))

    def blocked(self) -> list[AnyRow]:
        """The users a revoke blocked, longest blocked first."""
        q = select(blocked_users).order_by(blocked_users.c.since, blocked_users.c.user_name)
        return list(self._conn.execute(q))

    def last_cycle(self) -> dict[str, Any] | None:
        """The last finished cycle that read PIM (poll, drift or sync): whether the brake held."""
        q = (
            select(cycles)
            .where(cycles.c.ended_at.is_not(None), cycles.c.kind.in_(("poll", "drift", "sync")))
            .order_by(cycles.c.id.desc())
            .limit(1)
        )
        row = self._conn.execute(q).first()
        return dict(row._mapping) if row else None

    def brake_since(self) -> datetime | None:
        """When the safety brake was last reported, if ever."""
        q = select(func.max(findings.c.at)).where(findings.c.kind == "safety_brake")
        when: datetime | None = self._conn.execute(q).scalar_one()
        return as_utc(when)
