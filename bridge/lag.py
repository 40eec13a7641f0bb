"""SCIM lag samples in the ledger: for every grant of a group membership, when PIM changed, when
the bridge acted, and when Entra's SCIM provisioning exported the same change
(see docs/architecture.md).

Matching is by Entra group and principal: an activation is exported by the first membership
`add` for that pair at or after the grant's start, a removal by the first `remove` at or after
its recorded end. Where the provisioning logs could not be read the sample says `unknown` and
why; where they were read and hold no export yet it says `pending`. A time is never guessed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, insert, or_, select, update

from bridge.ledger import Ledger
from bridge.model import MembershipExport, as_utc
from bridge.schema import changes, grants, lag_samples

Kind = Literal["activation", "removal"]
# Clocks of Entra, the bridge and the database differ a little; an export logged this much
# before the change it belongs to still counts.
SKEW = timedelta(seconds=1)


@dataclass(frozen=True)
class LagSample:
    mapping: str
    source_instance_id: str
    kind: Kind
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
class LagStats:
    kind: Kind
    count: int
    p50: float | None
    p95: float | None
    bridge_p50: float | None
    pending: int
    unknown: int


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile: always one of the measured values, never interpolated."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


class LagStore:
    """Lag samples on top of the ledger's engine; the ledger's own methods are untouched."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def collect(
        self,
        group_of_mapping: Mapping[str, str],
        exports: Iterable[MembershipExport] | None,
        since: datetime,
        now: datetime,
        unknown_reason: str = "provisioning logs not read",
    ) -> list[LagSample]:
        """Compute and store a sample per direction for every membership grant that started or
        ended since `since`. `exports=None` means the logs could not be read: samples not yet
        exported become `unknown` with `unknown_reason`; exported ones are kept as they are."""
        found = None if exports is None else list(exports)
        engine = self.ledger.engine
        with engine.connect() as conn:
            rows = conn.execute(
                select(grants).where(
                    grants.c.target_key.like("group:%"),
                    or_(grants.c.not_before >= since, grants.c.ended_at >= since),
                )
            ).all()
            ops = conn.execute(
                select(changes).where(
                    changes.c.status == "ok", changes.c.target_key.like("group:%")
                )
            ).all()
            held = conn.execute(
                select(
                    grants.c.ic_user_id, grants.c.target_key, grants.c.not_before, grants.c.ended_at
                )
            ).all()
        out: list[LagSample] = []
        for g in rows:
            group = group_of_mapping.get(g.mapping)
            if group is None:
                continue  # a mapping removed from the config since
            start, end = as_utc(g.not_before), as_utc(g.ended_at)
            assert start is not None
            windows: list[tuple[Kind, datetime]] = [("activation", start)]
            if end is not None:
                windows.append(("removal", end))
            for kind, pim_at in windows:
                op = "add" if kind == "activation" else "remove"
                bridge_at, detail = _bridge_time(g, op, pim_at, ops, held)
                scim_at = (
                    None if found is None else _first(found, group, g.principal_id, op, pim_at)
                )
                if scim_at is not None:
                    state = "exported"
                elif found is None:
                    state, detail = "unknown", unknown_reason
                else:
                    state = "pending"
                out.append(
                    LagSample(
                        g.mapping,
                        g.source_instance_id,
                        kind,
                        g.principal_id,
                        g.user_name,
                        group,
                        pim_at,
                        bridge_at,
                        scim_at,
                        state,
                        detail,
                    )
                )
        self._store(out, now)
        return out

    def _store(self, samples: Sequence[LagSample], now: datetime) -> None:
        with self.ledger._write_lock, self.ledger.engine.begin() as conn:
            for s in samples:
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
                            mapping=s.mapping,
                            source_instance_id=s.source_instance_id,
                            kind=s.kind,
                            **values,
                        )
                    )
                elif existing.scim_state != "exported" or s.scim_state == "exported":
                    # A measured export is never overwritten by a later failed read.
                    conn.execute(update(lag_samples).where(key).values(**values))

    def samples(self, since: datetime | None = None) -> list[LagSample]:
        q = select(lag_samples).order_by(lag_samples.c.pim_at, lag_samples.c.id)
        if since is not None:
            q = q.where(lag_samples.c.pim_at >= since)
        with self.ledger.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [
            LagSample(
                r.mapping,
                r.source_instance_id,
                r.kind,
                r.principal_id,
                r.user_name,
                r.entra_group_id,
                as_utc(r.pim_at),  # type: ignore[arg-type]
                as_utc(r.bridge_at),
                as_utc(r.scim_at),
                r.scim_state,
                r.detail,
            )
            for r in rows
        ]

    def stats(self, kind: Kind, since: datetime | None = None) -> LagStats:
        chosen = [s for s in self.samples(since) if s.kind == kind]
        scim = [v for s in chosen if (v := s.scim_seconds) is not None]
        bridge = [v for s in chosen if (v := s.bridge_seconds) is not None]
        return LagStats(
            kind,
            len(scim),
            percentile(scim, 50),
            percentile(scim, 95),
            percentile(bridge, 50),
            sum(1 for s in chosen if s.scim_state == "pending"),
            sum(1 for s in chosen if s.scim_state == "unknown"),
        )


def _first(
    exports: Sequence[MembershipExport], group: str, principal: str, op: str, after: datetime
) -> datetime | None:
    times = [
        e.at
        for e in exports
        if e.entra_group_id == group
        and e.principal_id == principal
        and e.op == op
        and e.at >= after - SKEW
    ]
    return min(times) if times else None


def _bridge_time(
    g: Any, op: str, pim_at: datetime, ops: Sequence[Any], held: Sequence[Any]
) -> tuple[datetime | None, str | None]:
    """When the bridge's own change for this grant took effect, or None and why not."""
    if op == "remove" and any(
        h.ic_user_id == g.ic_user_id
        and h.target_key == g.target_key
        and as_utc(h.not_before) <= pim_at  # type: ignore[operator]
        and (h.ended_at is None or as_utc(h.ended_at) > pim_at)  # type: ignore[operator]
        for h in held
    ):
        return None, "still held through another grant"
    times = [
        as_utc(c.outcome_at)
        for c in ops
        if c.op == op
        and c.ic_user_id == g.ic_user_id
        and c.target_key == g.target_key
        and c.outcome_at is not None
        and as_utc(c.outcome_at) >= pim_at - SKEW  # type: ignore[operator]
    ]
    if times:
        return min(times), None  # type: ignore[type-var]
    if op == "add":
        return None, "no bridge add recorded (already held, or not applied yet)"
    return None, None
