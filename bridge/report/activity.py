"""Evidence of use in the report (`--activity`): each grant's CloudTrail digest from the
ledger beside its row, the anomalies it shows, and what the readings of the trail read.

The report never reads S3: `pim-bridge report --activity` first digests what the ledger lacks
(bridge/activity/), then the report reads the digests like everything else."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bridge.activity.digest import GrantActivity, ScanTotals
from bridge.report.anomalies import Anomaly
from bridge.report.rows import GrantRow
from bridge.report.text import when

# Row anomaly kinds the digest adds; their severities are in anomalies.SEVERITY.
USED_AFTER_END = "used_after_end"
DENIED_AFTER_END = "denied_after_end"
UNUSED_GRANT = "unused_grant"


def with_activity(row: GrantRow, activity: GrantActivity | None) -> GrantRow:
    """The row with its digest and the anomalies the digest shows."""
    if activity is None:
        return row
    kinds: list[str] = []
    if activity.digest.used_after_end:
        kinds.append(USED_AFTER_END)
    if activity.digest.denied_after_end:
        kinds.append(DENIED_AFTER_END)
    if activity.unused and row.ended_at is not None:
        kinds.append(UNUSED_GRANT)
    return replace(row, activity=activity, anomalies=(*row.anomalies, *kinds))


def anomalies_of(row: GrantRow) -> list[Anomaly]:
    a = row.activity
    if a is None:
        return []
    d = a.digest
    common: dict[str, Any] = {
        "user": row.user,
        "mapping": row.mapping,
        "target": row.target,
        "grant_id": row.grant_id,
    }
    end = row.ended_at or row.scheduled_end
    out: list[Anomaly] = []
    if USED_AFTER_END in row.anomalies and d.used_after_end_first is not None:
        first = d.used_after_end_first
        detail = (
            f"{d.used_after_end} call(s) succeeded after the end, the first "
            f"{_after(first, end)} ({d.used_after_end_call}): revocation did not hold"
        )
        out.append(Anomaly(USED_AFTER_END, first, first, 1, detail, **common))
    if DENIED_AFTER_END in row.anomalies and d.denied_after_end_first is not None:
        first = d.denied_after_end_first
        detail = (
            f"{d.denied_after_end} call(s) refused after the end, the first {_after(first, end)}: "
            "revocation held"
        )
        out.append(Anomaly(DENIED_AFTER_END, first, first, 1, detail, **common))
    if UNUSED_GRANT in row.anomalies and row.ended_at is not None:
        held = (row.ended_at - row.activated_at).total_seconds()
        detail = (
            f"no AWS call in {held / 60:.0f} min of access to {', '.join(a.targets)}: "
            "a least-privilege hint for access reviews"
        )
        out.append(Anomaly(UNUSED_GRANT, row.ended_at, row.ended_at, 1, detail, **common))
    return out


def _after(at: datetime, end: datetime | None) -> str:
    return f"at {when(at)}" if end is None else f"{(at - end).total_seconds():.1f}s after it"


# -- the row's cells --------------------------------------------------------------------------


def first_use(row: GrantRow) -> datetime | None:
    return row.activity.digest.first_use if row.activity else None


def last_use(row: GrantRow) -> datetime | None:
    return row.activity.digest.last_use if row.activity else None


def calls(row: GrantRow) -> int | None:
    return row.activity.digest.calls if row.activity else None


def errors(row: GrantRow) -> int | None:
    return row.activity.digest.errors if row.activity else None


def services(row: GrantRow) -> list[str] | None:
    return row.activity.digest.top_services() if row.activity else None


def used_after_end(row: GrantRow) -> int | None:
    return row.activity.digest.used_after_end if row.activity else None


def denied_after_end(row: GrantRow) -> int | None:
    return row.activity.digest.denied_after_end if row.activity else None


def complete(row: GrantRow) -> bool | None:
    return row.activity.complete if row.activity else None


# -- the summary --------------------------------------------------------------------------------


@dataclass
class ActivityCollector:
    totals: ScanTotals = field(default_factory=ScanTotals)
    grants: int = 0  # rows with a digest
    calls: int = 0
    used_after_end: int = 0  # rows with a call that succeeded after the end
    denied_after_end: int = 0
    unused: int = 0

    def add(self, row: GrantRow) -> None:
        if row.activity is None:
            return
        self.grants += 1
        self.calls += row.activity.digest.calls
        self.used_after_end += USED_AFTER_END in row.anomalies
        self.denied_after_end += DENIED_AFTER_END in row.anomalies
        self.unused += UNUSED_GRANT in row.anomalies

    def as_dict(self) -> dict[str, Any]:
        t = self.totals
        return {
            "grants": self.grants,
            "calls": self.calls,
            "used_after_end": self.used_after_end,
            "denied_after_end": self.denied_after_end,
            "unused_grants": self.unused,
            "log_files": t.objects,
            "records": t.records,
            "attributed": t.attributed,
            "unattributed": t.unattributed,
            "other": t.other,
            "skipped": [{"key": k, "reason": r} for k, r in t.skipped],
        }

    def headline(self) -> str:
        s = self.as_dict()
        text = (
            f"{s['calls']} calls on {s['grants']} grants; {s['used_after_end']} used after the "
            f"end, {s['denied_after_end']} refused after it, {s['unused_grants']} unused; "
            f"{s['records']} records in {s['log_files']} log files ({s['unattributed']} "
            "unattributed)"
        )
        if s["skipped"]:
            text += f"; {len(s['skipped'])} skipped: " + ", ".join(x["key"] for x in s["skipped"])
        return text
