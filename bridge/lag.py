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
from typing import Any

from bridge.model import MembershipExport, as_utc
from bridge.store import LagKind, LagSample, Ledger

# Clocks of Entra, the bridge and the database differ a little; an export logged this much
# before the change it belongs to still counts.
SKEW = timedelta(seconds=1)


@dataclass(frozen=True)
class LagStats:
    kind: LagKind
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
    """Lag samples computed from the ledger's grants and changes, and kept in it."""

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
        read = self.ledger.lag_sources(since)
        ops, held = read.applied, read.windows
        out: list[LagSample] = []
        for g in read.grants:
            group = group_of_mapping.get(g.mapping)
            if group is None:
                continue  # a mapping removed from the config since
            start, end = as_utc(g.not_before), as_utc(g.ended_at)
            assert start is not None
            windows: list[tuple[LagKind, datetime]] = [("activation", start)]
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
        self.ledger.record_lag_samples(out, now)
        return out

    def samples(self, since: datetime | None = None) -> list[LagSample]:
        return self.ledger.lag_samples(since)

    def stats(self, kind: LagKind, since: datetime | None = None) -> LagStats:
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
        and as_utc(h.not_before) <= pim_at
        and (h.ended_at is None or as_utc(h.ended_at) > pim_at)
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
        and as_utc(c.outcome_at) >= pim_at - SKEW
    ]
    if times:
        return min(times), None
    if op == "add":
        return None, "no bridge add recorded (already held, or not applied yet)"
    return None, None
