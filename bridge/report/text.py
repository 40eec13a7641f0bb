"""Short human renderings of a row's cells (and an anomaly's), shared by the table, Markdown and
HTML formats."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache

from bridge.report.anomalies import Anomaly
from bridge.report.rows import GrantRow


def when(value: datetime | None) -> str:
    # isoformat, not strftime: several times faster, and a report shows a few times a grant.
    return "" if value is None else value.isoformat(" ", "seconds")[:19] + "Z"


def secs(value: float | None, unknown: str = "") -> str:
    return unknown if value is None else f"{value:.1f}s"


def end_text(row: GrantRow) -> str:
    if row.ended_at is None:
        return f"live until {when(row.scheduled_end)}" if row.scheduled_end else "live"
    # A deactivation at PIM's own request time, which the revocation is measured from.
    return f"{row.end_reason} {when(row.end_requested_at or row.ended_at)}"


def revoked_text(row: GrantRow) -> str:
    if row.continued_by:
        return f"kept by {row.continued_by}"
    if row.revoked_at is not None:
        return f"{when(row.revoked_at)} (+{secs(row.end_to_revoked_s)})"
    if row.still_held:
        return "STILL HELD"
    return "" if row.ended_at is None else "no removal recorded"


def provisioned_text(row: GrantRow) -> str:
    if row.provisioned_at is None:
        return "not provisioned"
    return f"{when(row.provisioned_at)} (+{secs(row.activation_to_access_s)})"


def denial_text(row: GrantRow) -> str:
    if row.denial_status is None:
        return ""
    text = row.denial_status
    if row.denial_applied_at:
        text += f" {when(row.denial_applied_at)}"
    if row.denial_pruned_at:
        text += f", pruned {when(row.denial_pruned_at)}"
    return text


def why_text(row: GrantRow) -> str:
    parts = [p for p in (row.justification, _ticket_text(row)) if p]
    if row.approver:
        parts.append(f"approved by {row.approver}")
    return "; ".join(parts)


def _ticket_text(row: GrantRow) -> str | None:
    if not row.ticket:
        return None
    return f"ticket {row.ticket}" + (f" ({row.ticket_system})" if row.ticket_system else "")


def scim_text(row: GrantRow) -> str:
    """Activation lag, and the removal's once the grant ended: `unknown` where no sample."""
    text = secs(row.scim_lag_s, "unknown")
    if row.ended_at is not None:
        text += f" / {secs(row.scim_removal_lag_s, 'unknown')}"
    return text


def activity_text(row: GrantRow) -> str:
    """The human formats' cell: calls, when, where, errors, and what happened after the end."""
    a = row.activity
    if a is None:
        return ""
    d = a.digest
    if not a.targets and not d.calls:
        return "no AWS account to use"
    if not d.calls:
        return "no call" + ("" if a.complete else " yet")
    parts = [f"{d.calls} calls"]
    if d.first_use is not None and d.last_use is not None:
        parts[0] += f" {when(d.first_use)} - {when(d.last_use)}"
    parts.append(", ".join(s.removesuffix(".amazonaws.com") for s in d.top_services()))
    if d.errors:
        parts.append(f"{d.errors} errors")
    if d.used_after_end:
        parts.append(f"{d.used_after_end} USED AFTER END")
    if d.denied_after_end:
        parts.append(f"{d.denied_after_end} refused after end")
    if not a.complete:
        parts.append("read so far")
    return "; ".join(parts)


WHY = "justification / ticket / approver"
ACTIVITY = "activity"
# The grant columns of the human formats (HTML, Markdown, terminal): each header beside the
# text of its cell, so the two cannot fall out of order.
GRANT_COLUMNS: tuple[tuple[str, Callable[[GrantRow], str]], ...] = (
    ("user", lambda r: r.user),
    ("mapping", lambda r: r.mapping),
    ("target", lambda r: r.target),
    ("activated", lambda r: when(r.activated_at)),
    ("provisioned", provisioned_text),
    ("ended", end_text),
    ("revoked", revoked_text),
    ("session denial", denial_text),
    ("SCIM lag (add / remove)", scim_text),
    (WHY, why_text),
    (ACTIVITY, activity_text),
    ("anomalies", lambda r: ", ".join(r.anomalies)),
)


@cache  # asked for each row of a report: four layouts in all
def _columns(why: bool, activity: bool) -> tuple[tuple[str, Callable[[GrantRow], str]], ...]:
    left_out = {WHY} if not why else set()
    if not activity:
        left_out.add(ACTIVITY)
    return tuple(c for c in GRANT_COLUMNS if c[0] not in left_out)


def grant_header(*, why: bool = True, activity: bool = False) -> tuple[str, ...]:
    """The headers of `grant_cells`; `why` keeps the justification / ticket / approver column
    the narrow terminal table leaves out; `activity` adds the CloudTrail digest's column of a
    report with `--activity`."""
    return tuple(name for name, _ in _columns(why, activity))


def grant_cells(row: GrantRow, *, why: bool = True, activity: bool = False) -> list[str]:
    """One grant as the human formats show it, under `grant_header(why=why, activity=...)`."""
    return [cell(row) for _, cell in _columns(why, activity)]


# A narrow terminal (at 100 columns the wide table is unreadable) stacks each grant's cells a
# few lines high in four columns: who and what, access, end, anomalies. Each cell is its lines,
# made safe one by one (a line break is the layout's, never the ledger's).
Stacked = tuple[str, ...]
COMPACT_COLUMNS: tuple[tuple[str, Callable[[GrantRow], Stacked]], ...] = (
    ("user / mapping: target", lambda r: (r.user, f"{r.mapping}: {r.target}")),
    (
        "activated / access / SCIM",
        lambda r: (when(r.activated_at), _access_short(r), f"SCIM {scim_text(r)}"),
    ),
    ("ended / revoked / denial", lambda r: _end_short(r)),
    ("anomalies", lambda r: r.anomalies),
)
# Columns that must not fold what they hold: a time, an anomaly's kind.
COMPACT_WIDTHS = {
    "activated / access / SCIM": len("2026-11-24 12:00:00Z"),
    "ended / revoked / denial": len("2026-11-24 12:00:00Z"),
    "anomalies": len("revocation_failed"),
    "severity / kind": len("denial_not_written"),
    "first / last seen": len("2026-11-24 12:00:00Z"),
}


def _access_short(row: GrantRow) -> str:
    if row.provisioned_at is None:
        return "not provisioned"
    return f"access +{secs(row.activation_to_access_s)}"


def _end_short(row: GrantRow) -> Stacked:
    if row.ended_at is None:
        return ("live until", when(row.scheduled_end)) if row.scheduled_end else ("live",)
    if row.revoked_at is not None:
        revoked = f"revoked +{secs(row.end_to_revoked_s)}"
    else:
        revoked = revoked_text(row)
    denial = f"denial {row.denial_status}" if row.denial_status else "no denial"
    return (str(row.end_reason), when(row.end_requested_at or row.ended_at), revoked, denial)


def compact_header() -> tuple[str, ...]:
    return tuple(name for name, _ in COMPACT_COLUMNS)


def compact_cells(row: GrantRow) -> list[Stacked]:
    """One grant in the narrow terminal table, under `compact_header()`: each cell its lines."""
    return [tuple(cell(row)) for _, cell in COMPACT_COLUMNS]


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`1 user`, `2 users`, `1 anomaly`, `0 anomalies`."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


ANOMALY_HEADER = (
    "severity",
    "kind",
    "first seen",
    "last seen",
    "count",
    "user",
    "mapping",
    "target",
    "detail",
)


def anomaly_cells(a: Anomaly) -> tuple[str, ...]:
    """One anomaly as the human formats show it, under `ANOMALY_HEADER`."""
    return (
        a.severity,
        a.kind,
        when(a.first_at),
        when(a.last_at),
        str(a.count),
        a.user or "",
        a.mapping or "",
        a.target or "",
        a.detail,
    )


COMPACT_ANOMALY_HEADER = ("severity / kind", "first / last seen", "count", "who / what", "detail")


def compact_anomaly_cells(a: Anomaly) -> list[Stacked]:
    """One anomaly in the narrow terminal table, under `COMPACT_ANOMALY_HEADER`."""
    return [
        (a.severity, a.kind),
        (when(a.first_at), when(a.last_at)),
        (str(a.count),),
        tuple(p for p in (a.user, a.mapping, a.target) if p),
        (a.detail,),
    ]
