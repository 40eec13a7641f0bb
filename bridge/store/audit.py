"""What the bridge tells an auditor beyond its changes: findings, session denials, and the SCIM
lag samples that health records (bridge/lag.py computes them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Connection

from bridge.model import Finding, as_utc
from bridge.ports import ARMED_NOTE
from bridge.redact import redact
from bridge.schema import changes, denials, findings, grants, lag_samples
from bridge.store.engine import AnyRow

if TYPE_CHECKING:
    from bridge.store.engine import Database

LagKind = Literal["activation", "removal"]


@dataclass(frozen=True)
class LagSample:
    mapping: str
    source_instance_id: str
    kind: LagKind
    principal_id: str
    user_name: str
    entra_group_id: str
    pim_at: datetime
    bridge_at: datetime | None
    scim_at: datetime | None
    scim_state: str  # exported | pending | unknown
    detail: str | None = None

    @property
    def bridge_seconds(self) -> float | None:
        return None if self.bridge_at is None else (self.bridge_at - self.pim_at).total_seconds()

    @property
    def scim_seconds(self) -> float | None:
        return None if self.scim_at is None else (self.scim_at - self.pim_at).total_seconds()


@dataclass(frozen=True)
class LagSources:
    """What lag samples are computed from, read together."""

    grants: Sequence[AnyRow]  # membership grants begun or ended since the window's start
    applied: Sequence[AnyRow]  # membership changes that took effect
    windows: Sequence[AnyRow]  # every grant's user, target, start and end


class Audit:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record_findings(
        self, cycle_id: int | None, found: Sequence[Finding], now: datetime
    ) -> None:
        if not found:
            return
        with self._db.fenced() as conn:
            conn.execute(
                insert(findings),
                [
                    {
                        "cycle_id": cycle_id,
                        "at": now,
                        "kind": f.kind,
                        "mapping": f.mapping,
                        # Details quote upstream errors: no credential they echo is kept.
                        "detail": redact(f.detail),
                        "user_name": f.user,
                        "ic_user_id": f.user_id,
                        "target": f.target,
                    }
                    for f in found
                ],
            )

    def finding_details(self, kind: str) -> list[str]:
        """What every finding of this kind said, oldest first."""
        q = select(findings.c.detail).where(findings.c.kind == kind).order_by(findings.c.id)
        with self._db.reading() as conn:
            return [r[0] for r in conn.execute(q)]

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
        with self._db.writing() as conn:
            conn.execute(
                insert(denials),
                [
                    {
                        "at": at,
                        "ic_user_id": user,
                        "permission_set_arn": permission_set_arn,
                        "accounts": sorted(accounts),
                        "status": status,
                        "detail": None if detail is None else redact(detail),
                        "done_at": done_at,
                    }
                    for user, accounts in sorted(users.items())
                ],
            )

    def denials_in_force(self, since: datetime) -> dict[str, tuple[set[str], set[str]]]:
        """Per policy (permission set ARN, or `scp:<id>`), the users whose denials provisioned
        since `since` it may still hold: (in force, armed ahead of an end)."""
        q = (
            select(denials.c.permission_set_arn, denials.c.ic_user_id, denials.c.status)
            .add_columns(denials.c.detail)
            .where(denials.c.at >= since, denials.c.status.in_(("provisioned", "disarmed")))
            .order_by(denials.c.id)
        )
        out: dict[str, tuple[set[str], set[str]]] = {}
        with self._db.reading() as conn:
            for policy, user, status, detail in conn.execute(q):
                in_force, armed = out.setdefault(policy, (set(), set()))
                if status == "disarmed":
                    armed.discard(user)
                elif (detail or "").startswith(ARMED_NOTE):
                    armed.add(user)
                else:
                    in_force.add(user)
        return out

    def lag_sources(self, since: datetime) -> LagSources:
        with self._db.reading() as conn:
            begun_or_ended = conn.execute(
                select(grants).where(
                    grants.c.target_key.like("group:%"),
                    or_(grants.c.not_before >= since, grants.c.ended_at >= since),
                )
            ).all()
            applied = conn.execute(
                select(changes).where(
                    changes.c.status == "ok", changes.c.target_key.like("group:%")
                )
            ).all()
            windows = conn.execute(
                select(
                    grants.c.ic_user_id, grants.c.target_key, grants.c.not_before, grants.c.ended_at
                )
            ).all()
        return LagSources(begun_or_ended, applied, windows)

    def record_lag_samples(self, samples: Sequence[LagSample], now: datetime) -> None:
        """One row per grant and direction, updated in place as the export is measured."""
        with self._db.writing() as conn:
            for s in samples:
                _record_lag_sample(conn, s, now)

    def lag_samples(self, since: datetime | None = None) -> list[LagSample]:
        q = select(lag_samples).order_by(lag_samples.c.pim_at, lag_samples.c.id)
        if since is not None:
            q = q.where(lag_samples.c.pim_at >= since)
        with self._db.reading() as conn:
            rows = conn.execute(q).all()
        return [
            LagSample(
                r.mapping,
                r.source_instance_id,
                r.kind,
                r.principal_id,
                r.user_name,
                r.entra_group_id,
                as_utc(r.pim_at),
                as_utc(r.bridge_at),
                as_utc(r.scim_at),
                r.scim_state,
                r.detail,
            )
            for r in rows
        ]


def _record_lag_sample(conn: Connection, s: LagSample, now: datetime) -> None:
    key = and_(
        lag_samples.c.mapping == s.mapping,
        lag_samples.c.source_instance_id == s.source_instance_id,
        lag_samples.c.kind == s.kind,
    )
    existing = conn.execute(select(lag_samples.c.scim_state).where(key)).first()
    values: dict[str, Any] = {
        "principal_id": s.principal_id,
        "user_name": s.user_name,
        "entra_group_id": s.entra_group_id,
        "pim_at": s.pim_at,
        "bridge_at": s.bridge_at,
        "scim_at": s.scim_at,
        "scim_state": s.scim_state,
        "detail": s.detail,
        "recorded_at": now,
    }
    if existing is None:
        conn.execute(
            insert(lag_samples).values(
                mapping=s.mapping, source_instance_id=s.source_instance_id, kind=s.kind, **values
            )
        )
    elif existing.scim_state != "exported" or s.scim_state == "exported":
        # A measured export is never overwritten by a later failed read.
        conn.execute(update(lag_samples).where(key).values(**values))
