"""The health checks' rows and the pure decisions behind them: from what was read (a job, a
credential, lag figures, a SCIM probe, the last cycle) to one `Check` with its value, threshold
and state. The unit tests drive these directly."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bridge.config import HealthConfig
from bridge.errors import Unreadable
from bridge.graph.health_reads import Credential, SyncJob
from bridge.lag import LagStats
from bridge.scim import ScimProbe


class State(StrEnum):
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"  # could not be read: counts as a warning, with the reason
    SKIPPED = "skipped"  # not configured or not available here: does not count


@dataclass(frozen=True)
class Check:
    name: str
    state: State
    value: str
    threshold: str = "-"
    detail: str = ""
    figures: dict[str, float | int | None] = field(default_factory=dict)


def exit_code(checks: Sequence[Check]) -> int:
    """2 on a critical; 1 on a warning or an unknown, and when nothing was checked at all
    (every row skipped): no check is no evidence of health."""
    states = {c.state for c in checks}
    if State.CRITICAL in states:
        return 2
    if states & {State.WARNING, State.UNKNOWN} or not states - {State.SKIPPED}:
        return 1
    return 0


def overall(checks: Sequence[Check]) -> str:
    if not any(c.state is not State.SKIPPED for c in checks):
        return "nothing checked"
    return {0: "healthy", 1: "warning", 2: "critical"}[exit_code(checks)]


# -- decisions (pure) ----------------------------------------------------------------------------


def expiry_check(name: str, end: datetime | None, now: datetime, h: HealthConfig) -> Check:
    threshold = f"warn {h.warn_days}d, critical {h.critical_days}d"
    if end is None:
        return Check(name, State.UNKNOWN, "unknown", threshold, "no expiry date known")
    days = (end - now).total_seconds() / 86400
    if days <= h.critical_days:
        state = State.CRITICAL
    elif days <= h.warn_days:
        state = State.WARNING
    else:
        state = State.OK
    value = f"{days:.1f} days left" if days >= 0 else f"expired {-days:.1f} days ago"
    return Check(name, state, value, threshold, f"ends {end:%Y-%m-%d %H:%M}Z", {"days_left": days})


def credentials_checks(
    found: list[Credential] | Unreadable, now: datetime, h: HealthConfig
) -> list[Check]:
    """Per kind, the credential that ends soonest among those still valid: that is the next one
    to break. Credentials already expired are listed in the detail, not alarmed on (a rotation
    leaves them behind); only when every one of a kind has expired is that critical."""
    names = {"secret": "entra.app.secret", "certificate": "entra.app.certificate"}
    if isinstance(found, Unreadable):
        return [Check(n, State.UNKNOWN, "unknown", "-", str(found)) for n in names.values()]
    out = []
    for kind, name in names.items():
        of_kind = [c for c in found if c.kind == kind]
        if not of_kind:
            out.append(Check(name, State.SKIPPED, "none", "-", f"the app has no {kind}"))
            continue
        valid = sorted((c for c in of_kind if c.end > now), key=lambda c: c.end)
        expired = len(of_kind) - len(valid)
        chosen = valid[0] if valid else max(of_kind, key=lambda c: c.end)
        check = expiry_check(name, chosen.end, now, h)
        note = f"{chosen.name or chosen.key_id} {check.detail}"
        if expired and valid:
            note += f"; {expired} expired, ignored"
        out.append(Check(name, check.state, check.value, check.threshold, note, check.figures))
    return out


def saml_check(found: Credential | Unreadable | None, now: datetime, h: HealthConfig) -> Check:
    name = "entra.saml_certificate"
    if isinstance(found, Unreadable):
        return Check(name, State.UNKNOWN, "unknown", "-", str(found))
    if found is None:
        return Check(
            name,
            State.WARNING,
            "not found",
            "-",
            "no key matches preferredTokenSigningKeyThumbprint",
        )
    return expiry_check(name, found.end, now, h)


def job_check(job: SyncJob | Unreadable, now: datetime, h: HealthConfig) -> Check:
    name = "scim.job"
    threshold = f"Active, last success within {short_duration(h.scim_job_max_age)}, no failures"
    if isinstance(job, Unreadable):
        return Check(name, State.UNKNOWN, "unknown", threshold, str(job))
    age = (now - job.last_success).total_seconds() if job.last_success else None
    figures: dict[str, float | int | None] = {
        "last_success_age_seconds": age,
        "consecutive_failures": job.consecutive_failures,
        "quarantined": int(job.code == "Quarantine"),
    }
    detail = "last success " + (
        f"{short_duration(timedelta(seconds=age))} ago" if age is not None else "never"
    )
    if job.consecutive_failures:
        detail += f", {job.consecutive_failures} consecutive failures"
    if job.code == "Quarantine":
        return Check(
            name, State.CRITICAL, "Quarantine", threshold, f"{job.quarantine}; {detail}", figures
        )
    stale = age is None or age > h.scim_job_max_age.total_seconds()
    state = (
        State.OK
        if job.code == "Active" and not stale and not job.consecutive_failures
        else State.WARNING
    )
    return Check(name, state, job.code, threshold, detail, figures)


def lag_check(stats: LagStats, unreadable: Unreadable | None) -> Check:
    name = f"scim.lag.{stats.kind}"
    figures: dict[str, float | int | None] = {
        "p50_seconds": stats.p50,
        "p95_seconds": stats.p95,
        "bridge_p50_seconds": stats.bridge_p50,
        "samples": stats.count,
        "pending": stats.pending,
        "unknown": stats.unknown,
    }
    if stats.count == 0:
        if unreadable is not None:
            return Check(name, State.UNKNOWN, "unknown", "-", str(unreadable), figures)
        return Check(name, State.OK, "no samples yet", "-", f"{stats.pending} pending", figures)
    value = f"p50 {_secs(stats.p50)}, p95 {_secs(stats.p95)} (n={stats.count})"
    detail = f"bridge p50 {_secs(stats.bridge_p50)}"
    if stats.pending:
        detail += f"; {stats.pending} not exported yet"
    if unreadable is not None:
        detail += f"; logs now unreadable: {unreadable}"
    return Check(name, State.OK, value, "-", detail, figures)


def token_probe_check(probe: ScimProbe) -> Check:
    name = "scim.token"
    if probe.token_rejected:
        return Check(
            name,
            State.CRITICAL,
            f"refused (HTTP {probe.status})",
            "accepted",
            "every SCIM export from Entra fails until the token is replaced",
        )
    if probe.error:
        return Check(name, State.UNKNOWN, "unknown", "accepted", probe.error)
    return Check(name, State.OK, "accepted", "accepted")


def directory_check(probe: ScimProbe) -> Check:
    name = "scim.directory"
    if probe.token_rejected or probe.error:
        return Check(name, State.UNKNOWN, "unknown", "all present", probe.error or "")
    groups = len(probe.groups_found) + len(probe.groups_missing)
    users = len(probe.users_found) + len(probe.users_missing)
    value = f"{len(probe.groups_found)}/{groups} groups, {len(probe.users_found)}/{users} users"
    missing = probe.groups_missing + probe.users_missing
    if missing:
        return Check(name, State.WARNING, value, "all present", "missing: " + ", ".join(missing))
    return Check(name, State.OK, value, "all present")


def health_event_check(found: datetime | Unreadable | None) -> Check:
    name = "scim.token.health_event"
    if isinstance(found, Unreadable):
        return Check(name, State.SKIPPED, "not readable", "none open", str(found))
    if found is None:
        return Check(name, State.OK, "none", "none open")
    return Check(
        name,
        State.WARNING,
        f"open since {found:%Y-%m-%d}",
        "none open",
        "AWS announced the SCIM token's expiry",
    )


def removals_check(cycle: Mapping[str, Any] | None) -> Check:
    """Removals the last PIM-reading cycle decided and did not make: access someone's PIM end
    no longer backs is still there, which is critical whatever the cause."""
    if cycle is None:
        return Check("bridge.removals", State.SKIPPED, "no cycle yet", "0 held, 0 unplaced")
    summary = cycle.get("summary") or {}
    held, unplaced, failed = (int(summary.get(k, 0)) for k in ("held", "unplaced", "failed"))
    value = f"{held} held, {unplaced} unplaced, {failed} failed"
    if held or unplaced:
        why = []
        if held:
            why.append(
                f"{held} removals held back by the safety brake: `pim-bridge sync --dry-run`"
            )
        if unplaced:
            why.append(f"{unplaced} session denials not written (policy full or failing)")
        return Check("bridge.removals", State.CRITICAL, value, "0 held, 0 unplaced", "; ".join(why))
    state = State.WARNING if failed else State.OK
    return Check("bridge.removals", state, value, "0 held, 0 unplaced")


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def short_duration(d: timedelta) -> str:
    s = d.total_seconds()
    if s >= 3600:
        return f"{s / 3600:.1f}h"
    if s >= 60:
        return f"{s / 60:.0f}m"
    return f"{s:.0f}s"
