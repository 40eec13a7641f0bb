"""The ledger: what PIM granted, what the bridge holds in Identity Center, and every change it
made, in SQLite or PostgreSQL (SQLAlchemy Core, schema migrated by Alembic on open).

Expiry revocation reads only this store, so it works while Graph is unreachable.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import (
    Engine,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import StaticPool

from bridge.errors import BridgeError, ConfigError
from bridge.model import (
    Binding,
    Change,
    Finding,
    Grant,
    GrantVerdicts,
    Target,
    User,
    as_utc,
    target_from_key,
)
from bridge.schema import changes, cycles, denials, findings, grants, holdings, leader

MIGRATION_LOCK = 0x70696D_6D696772  # "pim" "migr": any constant, distinct from the leader's
# A holding whose creation was sent and not yet confirmed.
ADDING = "adding"


class Fenced(BridgeError):
    """This process is no longer the leader: another replica took over. Nothing was written."""


@dataclass(frozen=True)
class Holding:
    binding: Binding
    user_name: str
    since: datetime
    state: str
    last_error: str | None


@lru_cache(maxsize=1 << 16)
def _target(key: str) -> Target:
    # Tens of thousands of grants share a few thousand targets: parse each key once.
    return target_from_key(key)


def _grant_from_row(row: Any) -> Grant:
    return Grant(
        user=User(row.principal_id, row.user_name, row.ic_user_id),
        target=_target(row.target_key),
        not_before=as_utc(row.not_before),  # type: ignore[arg-type]
        not_after=as_utc(row.not_after),
        source_instance_id=row.source_instance_id,
        mapping=row.mapping,
        justification=row.justification,
        ticket=row.ticket,
        approver=row.approver,
    )


def _grant_key(g: Grant) -> tuple[str, str, str]:
    return (g.mapping, g.source_instance_id, g.target.key)


class Ledger:
    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if url in ("sqlite://", "sqlite:///:memory:"):
                kwargs["poolclass"] = StaticPool
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        # SQLite allows one writer; serialise our own writers instead of retrying "locked".
        self._write_lock = threading.RLock()
        self.epoch: int | None = None  # set by take_leadership: writes are fenced by it
        if migrate:
            try:
                self.migrate()
            except OperationalError as exc:
                # The URL is the user's; say which key and why, without a driver traceback.
                raise ConfigError("store.url", f"cannot open the store: {exc.orig}") from None

    def migrate(self) -> None:
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(resources.files("bridge") / "migrations"))
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Replicas starting together must not migrate at the same time.
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def close(self) -> None:
        self.engine.dispose()

    # -- leadership -----------------------------------------------------------------------

    def take_leadership(self, holder: str, now: datetime) -> int:
        """Bump the epoch: from now on, writes of any earlier leader are refused."""
        with self._write_lock, self.engine.begin() as conn:
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
        self.epoch = epoch
        return epoch

    def current_leader(self) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(leader).where(leader.c.id == 1)).first()
        return dict(row._mapping) if row else None

    def _fence(self, conn: Connection) -> None:
        """Compare-and-set on the epoch, inside the writing transaction (FOR SHARE on
        PostgreSQL: a new leader's bump waits for this write, or this write sees the bump)."""
        if self.epoch is None:
            return
        current = conn.execute(
            select(leader.c.epoch).where(leader.c.id == 1).with_for_update(read=True)
        ).scalar()
        if current != self.epoch:
            raise Fenced(f"leadership lost: epoch {self.epoch} is not current ({current})")

    # -- cycles ---------------------------------------------------------------------------

    def start_cycle(self, kind: str, now: datetime) -> int:
        with self._write_lock, self.engine.begin() as conn:
            self._fence(conn)
            result = conn.execute(insert(cycles).values(kind=kind, started_at=now))
            return int(result.inserted_primary_key[0])

    def finish_cycle(
        self, cycle_id: int, now: datetime, status: str, summary: dict[str, Any]
    ) -> None:
        with self._write_lock, self.engine.begin() as conn:
            conn.execute(
                update(cycles)
                .where(cycles.c.id == cycle_id)
                .values(ended_at=now, status=status, summary=summary)
            )

    def last_cycle(
        self, status: str | None = None, kinds: Sequence[str] = (), *, finished: bool = False
    ) -> dict[str, Any] | None:
        q = select(cycles).order_by(cycles.c.id.desc()).limit(1)
        if finished:
            q = q.where(cycles.c.ended_at.is_not(None))
        if status:
            q = q.where(cycles.c.status == status)
        if kinds:
            q = q.where(cycles.c.kind.in_(kinds))
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return dict(row._mapping) if row else None

    # -- grants ---------------------------------------------------------------------------

    def live_grants(self) -> list[Grant]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(grants).where(grants.c.state == "live")).all()
        return [_grant_from_row(r) for r in rows]

    def last_ends(self, bindings: Iterable[Binding]) -> dict[Binding, datetime | None]:
        """The latest end of any grant, live or ended, per binding; None when one of them had
        no end (a permanent assignment). Bindings with no grant are left out."""
        wanted = set(bindings)
        out: dict[Binding, datetime | None] = {}
        users = sorted({b.ic_user_id for b in wanted})
        with self.engine.connect() as conn:
            for chunk in _chunks(users):
                q = select(grants.c.ic_user_id, grants.c.target_key, grants.c.not_after).where(
                    grants.c.ic_user_id.in_(chunk)
                )
                for r in conn.execute(q):
                    b = Binding(r.ic_user_id, r.target_key)
                    if b not in wanted:
                        continue
                    end = as_utc(r.not_after)
                    if b in out and out[b] is None:
                        continue
                    known = out.get(b)
                    out[b] = None if end is None else max(end, known) if known else end
        return out

    def live_principals(self) -> dict[tuple[str, str, str], str]:
        """(PIM instance id, principal id, matched name) -> Identity Center user id, for every
        live grant: the lookups already made, read in one query."""
        q = select(
            grants.c.source_instance_id,
            grants.c.principal_id,
            grants.c.user_name,
            grants.c.ic_user_id,
        ).where(grants.c.state == "live")
        with self.engine.connect() as conn:
            return {(r[0], r[1], r[2]): r[3] for r in conn.execute(q)}

    def due_mappings(self, now: datetime) -> set[str]:
        """Mappings with a live grant whose end has come: what an expiry job is about to end."""
        q = (
            select(grants.c.mapping)
            .where(grants.c.state == "live", grants.c.not_after <= now)
            .distinct()
        )
        with self.engine.connect() as conn:
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
        with self.engine.connect() as conn:
            return [as_utc(r[0]) for r in conn.execute(q)]  # type: ignore[misc]

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
        with self.engine.connect() as conn:
            return {Binding(r[0], r[1]): as_utc(r[2]) for r in conn.execute(q)}  # type: ignore[misc]

    def record_verdicts(self, verdicts: GrantVerdicts, now: datetime) -> None:
        """Write down what the plan decided about PIM's grants: new ones, moved ends, grants
        seen again, and grants ended with their reason. The ledger decides none of it."""
        with self._write_lock, self.engine.begin() as conn:
            self._fence(conn)
            rows = {
                (r.mapping, r.source_instance_id, r.target_key): r
                for r in conn.execute(
                    select(
                        grants.c.id,
                        grants.c.mapping,
                        grants.c.source_instance_id,
                        grants.c.target_key,
                        grants.c.not_after,
                        grants.c.extended_count,
                    ).where(grants.c.state == "live")
                )
            }
            touched = [rows[k].id for k in map(_grant_key, verdicts.seen) if k in rows]
            # Tens of thousands of grants are seen every poll: one statement per chunk of rows,
            # not one per row, keeps a no-change poll at a few hundred milliseconds.
            for chunk in _chunks(touched):
                conn.execute(update(grants).where(grants.c.id.in_(chunk)).values(last_seen=now))
            for m in verdicts.moved:
                row = rows.get(_grant_key(m.grant))
                if row is None:
                    continue
                values = {c: getattr(m.grant, c) for c in ("justification", "ticket", "approver")}
                values = {c: v for c, v in values.items() if v}
                if as_utc(row.not_after) != m.grant.not_after:
                    values.update(
                        not_after=m.grant.not_after, extended_count=row.extended_count + 1
                    )
                conn.execute(
                    update(grants).where(grants.c.id == row.id).values(**values, last_seen=now)
                )
            ended = [
                {"row_id": rows[k].id, "at": e.at, "why": str(e.reason)}
                for e in verdicts.ended
                if (k := _grant_key(e.grant)) in rows
            ]
            if ended:
                conn.execute(
                    update(grants)
                    .where(grants.c.id == bindparam("row_id"))
                    .values(state="ended", ended_at=bindparam("at"), end_reason=bindparam("why")),
                    ended,
                )
            fresh = {_grant_key(g): g for g in verdicts.new}
            if fresh:
                self._record_new(conn, fresh, now)

    @staticmethod
    def _record_new(
        conn: Connection, fresh: dict[tuple[str, str, str], Grant], now: datetime
    ) -> None:
        """Insert grants first seen now; a grant that ended and is listed again is revived in
        its own row (same mapping, instance and target)."""
        instance_ids = sorted({g.source_instance_id for g in fresh.values()})
        old: dict[tuple[str, str, str], int] = {}
        for chunk in _chunks(instance_ids):
            for r in conn.execute(
                select(
                    grants.c.id, grants.c.mapping, grants.c.source_instance_id, grants.c.target_key
                ).where(grants.c.source_instance_id.in_(chunk))
            ):
                old[(r.mapping, r.source_instance_id, r.target_key)] = r.id
        # Bound names must differ from column names in an UPDATE's SET clause.
        revive = [
            {"row_id": old[key], **{f"v_{c}": v for c, v in _grant_values(g).items()}}
            for key, g in fresh.items()
            if key in old
        ]
        if revive:
            columns = _grant_values(next(iter(fresh.values())))
            conn.execute(
                update(grants)
                .where(grants.c.id == bindparam("row_id"))
                .values(
                    {
                        **{c: bindparam(f"v_{c}") for c in columns},
                        "last_seen": now,
                        "state": "live",
                        "ended_at": None,
                        "end_reason": None,
                    }
                ),
                revive,
            )
        inserts = [
            {
                **_grant_values(g),
                "first_seen": now,
                "last_seen": now,
                "extended_count": 0,
                "state": "live",
            }
            for key, g in fresh.items()
            if key not in old
        ]
        if inserts:
            conn.execute(insert(grants), inserts)

    # -- holdings and changes -------------------------------------------------------------

    def holdings(self) -> dict[Binding, Holding]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(holdings)).all()
        out: dict[Binding, Holding] = {}
        for r in rows:
            b = Binding(r.ic_user_id, r.target_key)
            out[b] = Holding(b, r.user_name, as_utc(r.since), r.state, r.last_error)  # type: ignore[arg-type]
        return out

    def record_intent(self, cycle_id: int | None, change: Change, now: datetime) -> int:
        """Before the AWS call. An addition is held from here on (state `adding`): a crash
        before its outcome must not leave access the ledger does not know it may have made."""
        b = change.binding
        with self._write_lock, self.engine.begin() as conn:
            self._fence(conn)
            result = conn.execute(
                insert(changes).values(
                    cycle_id=cycle_id,
                    op=change.op,
                    ic_user_id=b.ic_user_id,
                    user_name=change.user_name,
                    target_key=b.target_key,
                    mapping=change.mapping,
                    reason=str(change.reason),
                    status="intent",
                    intent_at=now,
                )
            )
            if (
                change.op == "add"
                and not conn.execute(
                    select(func.count()).select_from(holdings).where(*_holding(b))
                ).scalar()
            ):
                conn.execute(
                    insert(holdings).values(
                        ic_user_id=b.ic_user_id,
                        target_key=b.target_key,
                        user_name=change.user_name or b.ic_user_id,
                        since=now,
                        state=ADDING,
                    )
                )
            return int(result.inserted_primary_key[0])

    def record_outcome(
        self, change_id: int, change: Change, now: datetime, error: str | None = None
    ) -> None:
        # Not fenced: the call it records has been made, and a deposed leader's knowledge of
        # what it did to AWS is worth more to its successor than a clean epoch.
        where = _holding(change.binding)
        with self._write_lock, self.engine.begin() as conn:
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
            elif error:
                conn.execute(delete(holdings).where(*where, holdings.c.state == ADDING))
            else:
                conn.execute(
                    update(holdings)
                    .where(*where, holdings.c.state == ADDING)
                    .values(state="held", since=now)
                )

    def unconfirmed(self) -> list[Binding]:
        """Additions whose outcome a stop cut off: they may or may not exist in AWS."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(holdings.c.ic_user_id, holdings.c.target_key).where(
                    holdings.c.state == ADDING
                )
            ).all()
        return [Binding(r[0], r[1]) for r in rows]

    def confirm(self, binding: Binding) -> None:
        """An unconfirmed addition that AWS now lists: held like any other."""
        where = (*_holding(binding), holdings.c.state == ADDING)
        with self._write_lock, self.engine.begin() as conn:
            self._fence(conn)
            conn.execute(update(holdings).where(*where).values(state="held"))

    def release(self, binding: Binding) -> None:
        """Forget a holding that is already gone from Identity Center (removed out of band)."""
        with self._write_lock, self.engine.begin() as conn:
            self._fence(conn)
            conn.execute(delete(holdings).where(*_holding(binding)))

    def mark_interrupted(self, now: datetime) -> int:
        """Intents with no outcome were cut off by a crash: say so; the next cycle re-plans."""
        with self._write_lock, self.engine.begin() as conn:
            self._fence(conn)
            result = conn.execute(
                update(changes)
                .where(changes.c.status == "intent")
                .values(status="interrupted", outcome_at=now)
            )
            return int(result.rowcount or 0)

    def changes_since(self, since: datetime) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(changes).where(changes.c.intent_at >= since).order_by(changes.c.id)
            ).all()
        return [dict(r._mapping) for r in rows]

    def record_findings(
        self, cycle_id: int | None, found: Sequence[Finding], now: datetime
    ) -> None:
        if not found:
            return
        with self._write_lock, self.engine.begin() as conn:
            self._fence(conn)
            conn.execute(
                insert(findings),
                [
                    {
                        "cycle_id": cycle_id,
                        "at": now,
                        "kind": f.kind,
                        "mapping": f.mapping,
                        "detail": f.detail,
                    }
                    for f in found
                ],
            )

    def record_denials(
        self,
        at: datetime,
        permission_set_arn: str,
        users: dict[str, set[str]],
        status: str,
        done_at: datetime | None,
        detail: str | None = None,
    ) -> None:
        """One row per user denied on a permission set: `at` is the revocation time sessions
        must have been issued before; `done_at` when provisioning to every account finished."""
        if not users:
            return
        with self._write_lock, self.engine.begin() as conn:
            conn.execute(
                insert(denials),
                [
                    {
                        "at": at,
                        "ic_user_id": user,
                        "permission_set_arn": permission_set_arn,
                        "accounts": sorted(accounts),
                        "status": status,
                        "detail": detail,
                        "done_at": done_at,
                    }
                    for user, accounts in sorted(users.items())
                ],
            )


def _grant_values(g: Grant) -> dict[str, Any]:
    return {
        "mapping": g.mapping,
        "source_instance_id": g.source_instance_id,
        "target_key": g.target.key,
        "principal_id": g.user.principal_id,
        "user_name": g.user.name,
        "ic_user_id": g.user.ic_user_id,
        "not_before": g.not_before,
        "not_after": g.not_after,
        "justification": g.justification,
        "ticket": g.ticket,
        "approver": g.approver,
    }


def _holding(b: Binding) -> tuple[Any, Any]:
    return (holdings.c.ic_user_id == b.ic_user_id, holdings.c.target_key == b.target_key)


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


def _chunks(items: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    # Well under SQLite's bound-parameter limit, whatever the build.
    return (items[i : i + size] for i in range(0, len(items), size))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
