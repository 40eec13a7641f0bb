"""What a cycle tells the log: every change made, failed or held back, every finding, and one
summary line, each with names a person reads and the structured fields of `bridge.logs`."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

from bridge.logs import fields
from bridge.model import Change, Finding, target_name
from bridge.words import plural

log = logging.getLogger("bridge.cycle")

# Findings that are alerts: logged as a WARNING on every cycle while they last.
ALERTS = frozenset(
    {"safety_brake", "unreadable_group", "unresolved_mapping", "clock_jump", "withheld", "blocked"}
)

# How many held removals the warning names; the rest are counted (each has its own INFO line).
NAMED_HELD = 5


def change_fields(change: Change, event: str, labels: Mapping[str, str]) -> dict[str, object]:
    return fields(
        event,
        user=change.user,
        target=target_name(change.binding.target, labels),
        mapping=change.mapping,
        reason=str(change.reason),
    )


def applied(change: Change, labels: Mapping[str, str]) -> None:
    event = "added" if change.op == "add" else "removed"
    log.info("%s", change.render(labels), extra=change_fields(change, event, labels))


def failed(change: Change, why: str, labels: Mapping[str, str]) -> None:
    extra = change_fields(change, "failed", labels)
    log.error("%s failed: %s", change.render(labels), why, extra=extra)


def held(changes: Sequence[Change], labels: Mapping[str, str]) -> None:
    if not changes:
        return
    for c in changes:
        extra = change_fields(c, "held", labels)
        log.info("held by the safety brake: %s", c.render(labels), extra=extra)
    names = ", ".join(c.render(labels) for c in changes[:NAMED_HELD])
    more = f" and {len(changes) - NAMED_HELD} more" if len(changes) > NAMED_HELD else ""
    log.warning("%s held back: %s%s", plural(len(changes), "removal"), names, more)


def findings(found: Iterable[Finding], fresh: Iterable[Finding]) -> None:
    """Alerts repeat every cycle while they last; the rest are logged when they appear."""
    new = set(fresh)
    for f in found:
        extra = fields("finding", user=f.user, target=f.target, mapping=f.mapping, kind=f.kind)
        via = f" [{f.mapping}]" if f.mapping else ""
        if f.kind in ALERTS:
            log.warning("%s: %s%s", f.kind, f.detail, via, extra=extra)
        elif f in new:
            log.info("%s: %s%s", f.kind, f.detail, via, extra=extra)


def denial_written(user: str, permission_set: str, accounts: Sequence[str]) -> None:
    where = ", ".join(accounts) or "no account"
    log.info(
        "session denial written: %s on %s (%s)",
        user,
        permission_set,
        where,
        extra=fields("denial_written", user=user, target=permission_set),
    )


def denials_armed(permission_set: str, accounts: Sequence[str]) -> None:
    where = ", ".join(accounts) or "no account"
    log.info(
        "session denials armed on %s (%s)",
        permission_set,
        where,
        extra=fields("denial_armed", target=permission_set),
    )


def summary(
    kind: str,
    read_groups: int,
    applied: Sequence[Change],
    held: Sequence[Change],
    failed: Sequence[tuple[Change, str]],
    seconds: float,
) -> None:
    added = sum(1 for c in applied if c.op == "add")
    removed = len(applied) - added
    log.info(
        "%s cycle: read %s, %d added, %d removed, %d held, %d failed in %.1fs",
        kind,
        plural(read_groups, "group"),
        added,
        removed,
        len(held),
        len(failed),
        seconds,
        extra=fields(
            "cycle",
            kind=kind,
            read_groups=read_groups,
            added=added,
            removed=removed,
            held=len(held),
            failed=len(failed),
            duration_seconds=round(seconds, 3),
        ),
    )
