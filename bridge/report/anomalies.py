"""What an auditor must look at first: access that outlived its end, revocations that failed,
drift, unresolved users, removals held back, denials that could not be written.

Row anomalies come from one grant's row; ledger anomalies from the findings and denials tables.
Each poll repeats a standing finding (an unknown user is reported every 15 s), so findings are
grouped by what they say, with the first and last time and how often; so are denials that keep
failing the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from bridge.model import as_utc
from bridge.redact import redact
from bridge.report.query import ReportQuery
from bridge.report.rows import GrantRow
from bridge.store import AnyRow, ReportReader

SEVERITY = {
    "outlived_end": "critical",
    "used_after_end": "critical",
    "revocation_failed": "critical",
    "denial_not_written": "critical",
    "safety_brake": "critical",
    "clock_jump": "critical",
    "orphan": "warning",
    "unresolved_mapping": "warning",
    "duplicate_instance": "warning",
    "withheld": "warning",
    "unreadable_group": "warning",
    "drift": "warning",
    "unresolved_user": "warning",
    "bad_payload": "warning",
    "nested_group": "info",
    "denied_after_end": "info",
    "unused_grant": "info",
}
ORDER = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Anomaly:
    kind: str
    first_at: datetime
    last_at: datetime
    count: int
    detail: str
    user: str | None = None
    mapping: str | None = None
    target: str | None = None
    grant_id: int | None = None

    @property
    def severity(self) -> str:
        return SEVERITY.get(self.kind, "warning")


def alarming(row: GrantRow) -> bool:
    """Whether the row has an anomaly worse than information (and is shown as anomalous)."""
    return any(SEVERITY.get(kind, "warning") != "info" for kind in row.anomalies)


def sort_anomalies(found: list[Anomaly]) -> list[Anomaly]:
    return sorted(found, key=lambda a: (ORDER[a.severity], a.first_at, a.kind))


def from_row(row: GrantRow, query: ReportQuery) -> list[Anomaly]:
    out: list[Anomaly] = []
    when = row.end_requested_at or row.ended_at or row.activated_at
    common = {"user": row.user, "mapping": row.mapping, "target": row.target}
    if "outlived_end" in row.anomalies:
        if row.end_to_revoked_s is not None:
            detail = (
                f"access lasted {row.end_to_revoked_s:.1f}s past its end "
                f"(target {query.target_for(row.end_reason).total_seconds():g}s)"
            )
        else:
            held = (query.now - when).total_seconds()
            detail = f"still held {held:.0f}s after its end ({row.end_reason})"
        out.append(Anomaly("outlived_end", when, when, 1, detail, **common, grant_id=row.grant_id))
    if "revocation_failed" in row.anomalies:
        then = (
            f"then revoked at {row.revoked_at:%Y-%m-%dT%H:%M:%SZ}"
            if row.revoked_at
            else f"still failing: {row.revoke_error}"
        )
        detail = f"{row.revoke_failures} failed revocation attempt(s), {then}"
        out.append(
            Anomaly("revocation_failed", when, when, 1, detail, **common, grant_id=row.grant_id)
        )
    return out


def from_ledger(
    reader: ReportReader, query: ReportQuery, user_ids: set[str] | None = None
) -> list[Anomaly]:
    """Findings and failed denials in the report's window and filters. `user_ids`: the Identity
    Center users of the selected rows, when a user filter is given."""
    return [*_findings(reader, query), *_denials(reader, query, user_ids)]


def _findings(reader: ReportReader, query: ReportQuery) -> list[Anomaly]:
    drift_removals = _drift_removals(reader)
    out: list[Anomaly] = []
    for row in reader.finding_groups(query):
        kind, mapping, detail, user, user_id, target, first, last, count = row
        said = f"{user or ''} {detail}".lower()
        if query.users and not any(u.lower() in said for u in query.users):
            continue
        text = redact(detail)  # a ledger written before details were redacted may hold a token
        if kind == "drift":
            # Findings recorded before the user id had its own column began with it.
            uid = user_id or detail.split(" ", 1)[0]
            text = f"{detail} ({_drift_outcome(uid, detail, as_utc(first), drift_removals)})"
        if kind == "unresolved_user" and not user:
            user = _unresolved_user(text)
        out.append(
            Anomaly(
                kind,
                as_utc(first),
                as_utc(last),
                int(count),
                text,
                user=user,
                mapping=mapping,
                target=target,
            )
        )
    return out


# A bare Entra object id, as an older ledger's finding names a principal Graph gave no name for.
_OBJECT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def _unresolved_user(detail: str) -> str:
    """Who an `unresolved_user` finding is about: the bridge writes "<who>: no Identity Center
    user with …", who being the principal's name as Graph gave it, or its id."""
    who = detail.split(": no Identity Center user", 1)[0]
    return f"{who} (unresolved)" if _OBJECT_ID.match(who) else who


def _drift_removals(reader: ReportReader) -> dict[str, list[tuple[datetime, str]]]:
    out: dict[str, list[tuple[datetime, str]]] = {}
    for uid, status, at in reader.drift_removals():
        if at is not None:
            out.setdefault(uid, []).append((as_utc(at), status))
    return out


def _drift_outcome(
    uid: str, detail: str, first: datetime, removals: dict[str, list[tuple[datetime, str]]]
) -> str:
    tries = sorted(r for r in removals.get(uid, []) if r[0] >= first)
    if any(status == "ok" for _, status in tries):
        at = next(t for t, status in tries if status == "ok")
        return f"removed at {at:%Y-%m-%dT%H:%M:%SZ}"
    if tries:
        return "removal failed"
    return "not removed: drift = report" if "removing" not in detail else "not removed yet"


def _denials(reader: ReportReader, query: ReportQuery, user_ids: set[str] | None) -> list[Anomaly]:
    """One anomaly per denial that keeps failing the same way: a policy that cannot be written
    fails at every arming tick and every removal until it is fixed, and is one problem."""
    rows = reader.failed_denials(query.since, query.until)
    if not rows:
        return []
    names = reader.user_names()
    alike: dict[tuple[str, str, str, str | None], list[AnyRow]] = {}
    for r in rows:
        if user_ids is None or r.ic_user_id in user_ids:
            alike.setdefault((r.ic_user_id, r.permission_set_arn, r.status, r.detail), []).append(r)
    out: list[Anomaly] = []
    for (user, permission_set, status, detail), same in alike.items():
        times = sorted(as_utc(r.at) for r in same)
        accounts = ", ".join(sorted({a for r in same for a in r.accounts or ()}))
        why = f": {redact(detail)}" if detail else ""
        out.append(
            Anomaly(
                "denial_not_written",
                times[0],
                times[-1],
                len(same),
                f"session denial {status} on {permission_set} ({accounts}){why}",
                user=names.get(user, user),
                target=permission_set.rsplit("/", 1)[-1],
            )
        )
    return out
