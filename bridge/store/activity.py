"""Evidence of use in the ledger: each grant's digest of CloudTrail calls, each reading of the
trail, and the log files read so far per account and region, so none is read twice.

A reading first claims the delivery times it will read, under a lock, so two readings at once
(a report beside `run`) never read, and count, the same file. A claim counts while its reading
runs (for at most `STALE_CLAIM`) and once it finished; a failed reading's claims are void."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, func, insert, or_, select, text, update
from sqlalchemy.engine import Connection

from bridge.activity.digest import Digest, GrantActivity, ScanTotals
from bridge.activity.intervals import Interval, merged, minus
from bridge.model import as_utc
from bridge.schema import activity_coverage, activity_digests, activity_scans, grants
from bridge.store.engine import AnyRow, chunks, inserted_id

if TYPE_CHECKING:
    from bridge.store.engine import Database

ACTIVITY_LOCK = 0x70696D_61637476  # "pim" "actv": distinct from the leader's and migrations'
STALE_CLAIM = timedelta(hours=6)
Place = tuple[str, str]  # (account, region)


class Activity:
    def __init__(self, db: Database) -> None:
        self._db = db

    def activity_grants(self, since: datetime, until: datetime) -> list[AnyRow]:
        """Every grant whose window [start, end] overlaps [since, until]."""
        end = func.coalesce(grants.c.ended_at, grants.c.not_after)
        q = (
            select(
                grants.c.id,
                grants.c.ic_user_id,
                grants.c.user_name,
                grants.c.target_key,
                grants.c.not_before,
                grants.c.state,
                grants.c.ended_at,
                grants.c.not_after,
            )
            .where(grants.c.not_before <= until, or_(end.is_(None), end >= since))
            .order_by(grants.c.id)
        )
        with self._db.reading() as conn:
            return list(conn.execute(q).all())

    def claim_activity(
        self, wanted: Mapping[Place, Sequence[Interval]], now: datetime
    ) -> tuple[int, dict[Place, list[Interval]]]:
        """Start a reading: of what is wanted, the delivery times no other reading has read or
        is reading, claimed for this one. Returns its id and what it is to read."""
        with self._db.writing() as conn:
            _lock(conn)
            scan_id = inserted_id(
                conn.execute(
                    insert(activity_scans).values(started_at=now, status="running", skipped=[])
                )
            )
            have = _coverage(conn, now, wanted.keys())
            todo = {place: minus(spans, have.get(place, ())) for place, spans in wanted.items()}
            todo = {place: spans for place, spans in todo.items() if spans}
            rows = [
                {
                    "scan_id": scan_id,
                    "account_id": account,
                    "region": region,
                    "read_from": start,
                    "read_until": end,
                }
                for (account, region), spans in todo.items()
                for start, end in spans
            ]
            if rows:
                conn.execute(insert(activity_coverage), rows)
        return scan_id, todo

    def finish_activity(
        self,
        scan_id: int,
        found: Mapping[int, GrantActivity],
        totals: ScanTotals,
        now: datetime,
    ) -> None:
        """Add a finished reading's digests to those kept, and its counts."""
        with self._db.writing() as conn:
            kept = _digests(conn, list(found))
            for grant_id, new in found.items():
                _store(conn, grant_id, new, kept.get(grant_id))
            conn.execute(
                update(activity_scans)
                .where(activity_scans.c.id == scan_id)
                .values(
                    finished_at=now,
                    status="ok",
                    objects=totals.objects,
                    records=totals.records,
                    attributed=totals.attributed,
                    unattributed=totals.unattributed,
                    other=totals.other,
                    skipped=[{"key": k, "reason": r} for k, r in totals.skipped],
                )
            )

    def fail_activity(self, scan_id: int, detail: str, now: datetime) -> None:
        """A reading that stopped: its claims are released, nothing it read is kept."""
        with self._db.writing() as conn:
            conn.execute(delete(activity_coverage).where(activity_coverage.c.scan_id == scan_id))
            conn.execute(
                update(activity_scans)
                .where(activity_scans.c.id == scan_id)
                .values(finished_at=now, status="failed", detail=detail)
            )

    def activity_of(self, grant_ids: Sequence[int]) -> dict[int, GrantActivity]:
        with self._db.reading() as conn:
            return _digests(conn, grant_ids)


def read_activity(conn: Connection) -> dict[int, GrantActivity]:
    """Every grant's digest (the report's read)."""
    return {r.grant_id: _activity(r) for r in conn.execute(select(activity_digests))}


def read_totals(conn: Connection) -> ScanTotals:
    """The counts of every finished reading, summed; every object any of them skipped."""
    totals = ScanTotals()
    q = select(activity_scans).where(activity_scans.c.status == "ok")
    for r in conn.execute(q):
        totals.add(
            ScanTotals(
                r.objects,
                r.records,
                r.attributed,
                r.unattributed,
                r.other,
                [(s["key"], s["reason"]) for s in r.skipped or ()],
            )
        )
    return totals


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ACTIVITY_LOCK})


def _coverage(
    conn: Connection, now: datetime, places: Iterable[Place]
) -> dict[Place, list[Interval]]:
    wanted = set(places)
    live = or_(
        activity_scans.c.status == "ok",
        and_(
            activity_scans.c.status == "running", activity_scans.c.started_at >= now - STALE_CLAIM
        ),
    )
    q = (
        select(
            activity_coverage.c.account_id,
            activity_coverage.c.region,
            activity_coverage.c.read_from,
            activity_coverage.c.read_until,
        )
        .join(activity_scans, activity_scans.c.id == activity_coverage.c.scan_id)
        .where(live)
    )
    found: dict[Place, list[Interval]] = {}
    for account, region, start, end in conn.execute(q):
        if (account, region) in wanted:
            found.setdefault((account, region), []).append((as_utc(start), as_utc(end)))
    return {place: merged(spans) for place, spans in found.items()}


def _digests(conn: Connection, grant_ids: Sequence[int]) -> dict[int, GrantActivity]:
    out: dict[int, GrantActivity] = {}
    for part in chunks(list(grant_ids)):
        q = select(activity_digests).where(activity_digests.c.grant_id.in_(part))
        out.update({r.grant_id: _activity(r) for r in conn.execute(q)})
    return out


def _activity(r: Any) -> GrantActivity:
    digest = Digest(
        calls=r.calls,
        errors=r.errors,
        first_use=as_utc(r.first_use),
        last_use=as_utc(r.last_use),
        used_after_end=r.used_after_end,
        used_after_end_first=as_utc(r.used_after_end_first),
        used_after_end_call=r.used_after_end_call,
        denied_after_end=r.denied_after_end,
        denied_after_end_first=as_utc(r.denied_after_end_first),
    )
    digest.services.update(r.services or {})
    return GrantActivity(digest, tuple(r.targets or ()), bool(r.complete), as_utc(r.read_at))


def _store(conn: Connection, grant_id: int, new: GrantActivity, old: GrantActivity | None) -> None:
    digest = new.digest if old is None else old.digest.merge(new.digest)
    values = {
        **digest.values(),
        "targets": list(new.targets),
        "complete": new.complete or (old is not None and old.complete),
        "read_at": new.read_at,
    }
    if old is None:
        conn.execute(insert(activity_digests).values(grant_id=grant_id, **values))
    else:
        conn.execute(
            update(activity_digests).where(activity_digests.c.grant_id == grant_id).values(**values)
        )
