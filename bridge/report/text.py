"""Short human renderings of a row's cells (and an anomaly's), shared by the table, Markdown and
HTML formats."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bridge.report.anomalies import Anomaly
from bridge.report.rows import GrantRow


def when(value: datetime | None) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M:%S}Z"


def secs(value: float | None, unknown: str = "") -> str:
    return unknown if value is None else f"{value:.1f}s"


def end_text(row: GrantRow) -> str:
    if row.ended_at is None:
        return f"live until {when(row.scheduled_end)}" if row.scheduled_end else "live"
    return f"{row.end_reason} {when(row.ended_at)}"


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
    parts = [p for p in (row.justification, row.ticket and f"ticket {row.ticket}") if p]
    if row.approver:
        parts.append(f"approved by {row.approver}")
    return "; ".join(parts)


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


def _columns(why: bool, activity: bool) -> list[tuple[str, Callable[[GrantRow], str]]]:
    left_out = {WHY} if not why else set()
    if not activity:
        left_out.add(ACTIVITY)
    return [c for c in GRANT_COLUMNS if c[0] not in left_out]


def grant_header(*, why: bool = True, activity: bool = False) -> tuple[str, ...]:
    """The headers of `grant_cells`; `why` keeps the justification / ticket / approver column
    the narrow terminal table leaves out; `activity` adds the CloudTrail digest's column of a
    report with `--activity`."""
    return tuple(name for name, _ in _columns(why, activity))


def grant_cells(row: GrantRow, *, why: bool = True, activity: bool = False) -> list[str]:
    """One grant as the human formats show it, under `grant_header(why=why, activity=...)`."""
    return [cell(row) for _, cell in _columns(why, activity)]


def anomaly_cells(a: Anomaly) -> tuple[str, ...]:
    """One anomaly as the human formats show it."""
    return (
        a.severity,
        a.kind,
        when(a.first_at),
        str(a.count),
        a.user or "",
        a.mapping or "",
        a.detail,
    )
