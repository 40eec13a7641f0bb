"""The bridge's own state, from the ledger: when it last read PIM, which mappings it could not
read, and how much room its session denials have left in each policy. Pure decisions, like
`checks.py`; `run.py` reads what they need."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from bridge.denial.policy import POLICY_LIMIT, headroom
from bridge.health.checks import Check, State, short_duration
from bridge.identity_center.scp import SCP_LIMIT
from bridge.words import plural

# Fewer statements than this left in a policy is a warning: a burst of removals fills it.
HEADROOM_WARN = 10


def ready_within(poll_interval: timedelta) -> timedelta:
    """How old the last cycle that read PIM may be: three polls, and never under a minute.
    `/healthz` and the `bridge.cycle` row use the same limit."""
    return max(3 * poll_interval, timedelta(seconds=60))


def cycle_check(
    last_read: Mapping[str, Any] | None, cycled: bool, now: datetime, limit: timedelta
) -> Check:
    """Age of the last cycle that read PIM from Graph; an expiry judged from the ledger alone
    does not count, so an outage shows here even while expiries go on."""
    name, threshold = "bridge.cycle", f"read PIM within {short_duration(limit)}"
    if last_read is None:
        if not cycled:
            return Check(name, State.SKIPPED, "no cycle yet", threshold, "the bridge has not run")
        return Check(name, State.WARNING, "never read PIM", threshold, "every cycle failed Graph")
    ended = last_read["ended_at"] or last_read["started_at"]
    age = now - (ended if ended.tzinfo else ended.replace(tzinfo=now.tzinfo))
    value = f"{short_duration(age)} ago"
    detail = f"{last_read['kind']}, {plural(int(last_read['read_groups']), 'group')} read"
    figures: dict[str, float | int | None] = {"last_read_age_seconds": age.total_seconds()}
    state = State.OK if age <= limit else State.WARNING
    return Check(name, state, value, threshold, detail, figures)


def mappings_check(cycle: Mapping[str, Any] | None) -> Check:
    """Mappings the last poll could not read (an unreadable group, a name that does not
    resolve): their new grants wait and their removals are withheld."""
    name, threshold = "bridge.mappings", "all read"
    if cycle is None:
        return Check(name, State.SKIPPED, "no cycle yet", threshold)
    unreadable = sorted((cycle.get("summary") or {}).get("unreadable") or [])
    if not unreadable:
        return Check(name, State.OK, "all read", threshold)
    value = f"{plural(len(unreadable), 'mapping')} unreadable"
    return Check(name, State.WARNING, value, threshold, ", ".join(unreadable))


def headroom_checks(
    policies: Mapping[str, tuple[set[str], set[str]]],
    now: datetime,
    name_of: Callable[[str], str],
) -> list[Check]:
    """Per policy holding the bridge's denials, how many more fit before it must coalesce
    them. Counted from the ledger: statements others wrote in the same policy take room too."""
    out = []
    for policy, (in_force, armed) in sorted(policies.items()):
        if not in_force and not armed:
            continue
        limit = SCP_LIMIT if policy.startswith("scp:") else POLICY_LIMIT
        fit = headroom(in_force, armed, now, limit)
        state = State.OK if fit >= HEADROOM_WARN else State.WARNING
        detail = f"{len(in_force)} in force, {len(armed)} armed; {limit:,} characters"
        out.append(
            Check(
                f"bridge.denials.{name_of(policy)}",
                state,
                f"{fit} more fit",
                f">= {HEADROOM_WARN} more",
                detail,
                {"headroom": fit, "in_force": len(in_force), "armed": len(armed)},
            )
        )
    return out
