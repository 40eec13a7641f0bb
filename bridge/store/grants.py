"""PIM's grants as the ledger holds them: read for planning, for expiry timers, for metrics and
health; written only as the plan's verdicts (bridge/store/verdicts.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select, update

from bridge.model import (
    Binding,
    Change,
    Grant,
    GrantVerdicts,
    Reason,
    as_utc,
)
from bridge.schema import grants, holdings
from bridge.store.engine import chunks
from bridge.store.rows import GRANT_COLUMNS, RowReader, grants_from
from bridge.store.verdicts import write_verdicts

if TYPE_CHECKING:
    from bridge.store.engine import Database


class Grants:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record_verdicts(self, verdicts: GrantVerdicts, now: datetime) -> None:
        """Write down what the plan decided about PIM's grants: new ones, moved ends, grants
        seen again, and grants ended with their reason. The ledger decides none of it."""
        with self._db.fenced() as conn:
            write_verdicts(conn, verdicts, now)

    def record_revoked(
        self, ic_user_id: str, by: str, why: str | None, now: datetime, mapping: str | None
    ) -> int:
        """End the user's live grants (of `mapping`, when given) as `revoked`, by whom and
        why; returns how many."""
        where = [grants.c.ic_user_id == ic_user_id, grants.c.state == "live"]
        if mapping is not None:
            where.append(grants.c.mapping == mapping)
        with self._db.fenced() as conn:
            result = conn.execute(
                update(grants)
                .where(*where)
                .values(
                    state="ended",
                    ended_at=now,
                    end_reason=str(Reason.REVOKED),
                    ended_by=by,
                    end_note=why,
                )
            )
            return int(result.rowcount or 0)

    def user_names(self) -> dict[str, str]:
        """Every user name a grant was recorded for -> that user's Identity Center id (the
        latest grant's, should a name have moved)."""
        q = select(grants.c.user_name, grants.c.ic_user_id).order_by(grants.c.last_seen)
        with self._db.reading() as conn:
            return {r.user_name: r.ic_user_id for r in conn.execute(q)}

    def live_grants(self) -> list[Grant]:
        with self._db.reading() as conn:
            return grants_from(conn.execute(select(*GRANT_COLUMNS).where(grants.c.state == "live")))

    def live_grants_of(self, instance_ids: Iterable[str]) -> list[Grant]:
        """The live grants of these PIM instances, as a write of verdicts just left them."""
        out: list[Grant] = []
        reader = RowReader()
        with self._db.reading() as conn:
            for chunk in chunks(sorted(set(instance_ids))):
                q = select(*GRANT_COLUMNS).where(
                    grants.c.state == "live", grants.c.source_instance_id.in_(chunk)
                )
                out += [reader.grant(r) for r in conn.execute(q)]
        return out

    def live_grant_count(self) -> int:
        q = select(func.count()).select_from(grants).where(grants.c.state == "live")
        with self._db.reading() as conn:
            return int(conn.execute(q).scalar() or 0)

    def last_ends(self, bindings: Iterable[Binding]) -> dict[Binding, datetime | None]:
        """The latest end of any grant, live or ended, per binding; None when one of them had
        no end (a permanent assignment). Bindings with no grant are left out."""
        wanted = set(bindings)
        out: dict[Binding, datetime | None] = {}
        with self._db.reading() as conn:
            for chunk in chunks(sorted({b.ic_user_id for b in wanted})):
                q = select(grants.c.ic_user_id, grants.c.target_key, grants.c.not_after).where(
                    grants.c.ic_user_id.in_(chunk)
                )
                for r in conn.execute(q):
                    b = Binding.of(r.ic_user_id, r.target_key)
                    if b not in wanted:
                        continue
                    end = as_utc(r.not_after)
                    if b in out and out[b] is None:
                        continue
                    known = out.get(b)
                    out[b] = None if end is None else max(end, known) if known else end
        return out

    def revocation_latencies(self, removals: Sequence[Change], now: datetime) -> list[float]:
        """Seconds from the latest end by `now` of an expired grant of each removal's binding to
        `now`, in the order of `removals`; a binding with no such grant is left out."""
        ends: dict[Binding, datetime] = {}
        with self._db.reading() as conn:
            for chunk in chunks(sorted({c.binding.ic_user_id for c in removals})):
                q = (
                    select(grants.c.ic_user_id, grants.c.target_key, func.max(grants.c.not_after))
                    .where(
                        grants.c.ic_user_id.in_(chunk),
                        grants.c.end_reason == "expired",
                        grants.c.not_after <= now,
                    )
                    .group_by(grants.c.ic_user_id, grants.c.target_key)
                )
                ends.update({Binding.of(r[0], r[1]): as_utc(r[2]) for r in conn.execute(q)})
        found = (ends.get(c.binding) for c in removals)
        return [(now - end).total_seconds() for end in found if end is not None]

    def live_principals(self) -> dict[tuple[str, str, str], str]:
        """(PIM instance id, principal id, matched name) -> Identity Center user id, for every
        live grant: the lookups already made, read in one query."""
        q = select(
            grants.c.source_instance_id,
            grants.c.principal_id,
            grants.c.user_name,
            grants.c.ic_user_id,
        ).where(grants.c.state == "live")
        with self._db.reading() as conn:
            return {(r[0], r[1], r[2]): r[3] for r in conn.execute(q)}

    def recent_user_names(self, limit: int) -> list[str]:
        """Names of the users PIM's grants were last seen for, most recent first."""
        q = (
            select(grants.c.user_name, func.max(grants.c.last_seen).label("seen"))
            .group_by(grants.c.user_name)
            .order_by(func.max(grants.c.last_seen).desc())
            .limit(limit)
        )
        with self._db.reading() as conn:
            return [r.user_name for r in conn.execute(q)]

    def last_end_of(self, user_name: str, mapping: str) -> datetime | None:
        """The latest end of the user's grants through the mapping, live or ended."""
        q = select(func.max(grants.c.not_after)).where(
            grants.c.user_name == user_name, grants.c.mapping == mapping
        )
        with self._db.reading() as conn:
            end: datetime | None = conn.execute(q).scalar_one()
        return as_utc(end)

    def due_mappings(self, now: datetime) -> set[str]:
        """Mappings with a live grant whose end has come: what an expiry job is about to end."""
        q = (
            select(grants.c.mapping)
            .where(grants.c.state == "live", grants.c.not_after <= now)
            .distinct()
        )
        with self._db.reading() as conn:
            return {r[0] for r in conn.execute(q)}

    def next_expiries(self) -> list[datetime]:
        """Distinct end times of live grants, soonest first: one expiry job each."""
        # A grant PIM deactivated early whose removal is still held (the safety brake, a
        # failing removal) keeps its timer: at its own end the removal becomes an expiry.
        early = and_(grants.c.state == "ended", grants.c.end_reason == "deactivated", _held())
        q = (
            select(grants.c.not_after)
            .where(or_(grants.c.state == "live", early), grants.c.not_after.is_not(None))
            .distinct()
            .order_by(grants.c.not_after)
        )
        with self._db.reading() as conn:
            return [as_utc(r[0]) for r in conn.execute(q)]

    def ends_within(self, now: datetime, until: datetime) -> dict[Binding, datetime]:
        """Held bindings whose access ends after `now` and by `until`: the latest end of their
        live grants (those begun by `now`). A binding that a live grant keeps past `until`, or
        for good, is left out. Reads only the grants ending soon and their bindings' siblings."""
        later = grants.alias("later")
        kept = (
            select(later.c.id)
            .where(
                later.c.ic_user_id == grants.c.ic_user_id,
                later.c.target_key == grants.c.target_key,
                later.c.state == "live",
                later.c.not_before <= now,
                or_(later.c.not_after.is_(None), later.c.not_after > until),
            )
            .exists()
        )
        q = (
            select(grants.c.ic_user_id, grants.c.target_key, func.max(grants.c.not_after))
            .where(
                grants.c.state == "live",
                grants.c.not_before <= now,
                grants.c.not_after > now,
                grants.c.not_after <= until,
                _held(),
                ~kept,
            )
            .group_by(grants.c.ic_user_id, grants.c.target_key)
        )
        with self._db.reading() as conn:
            return {Binding.of(r[0], r[1]): as_utc(r[2]) for r in conn.execute(q)}


def _held() -> Any:
    """For a query over grants: the grant's user holds its target (a holdings row exists)."""
    return (
        select(holdings.c.ic_user_id)
        .where(
            holdings.c.ic_user_id == grants.c.ic_user_id,
            holdings.c.target_key == grants.c.target_key,
        )
        .exists()
    )
