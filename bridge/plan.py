"""The decisions of a cycle, as one pure function: `plan(desired, actual, scope, now)`.

It is the whole specification: every verdict about PIM's grants, every addition and removal
with its reason, what the safety brake holds, what to forget. No I/O; `bridge.reconcile`
gathers the inputs and applies the result.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field, replace
from datetime import datetime

from bridge.model import (
    AUDIT_DETAILS,
    Binding,
    Change,
    Ended,
    Finding,
    Grant,
    GrantVerdicts,
    Moved,
    Plan,
    Reason,
    Scope,
)
from bridge.ownership import not_owned_reason


@dataclass(frozen=True)
class Actual:
    """What exists, as the ledger held it before this cycle's read. `aws_holders` holds the
    holders read from AWS just now, per target key; a target missing from it falls back to the
    ledger's holdings (the fast poll reads no AWS state)."""

    held: frozenset[Binding]
    aws_holders: Mapping[str, frozenset[str]] = field(default_factory=dict)
    ledger_grants: tuple[Grant, ...] = ()  # the ledger's live grants
    # The last end of every grant the ledger recorded, ended ones included, for held bindings
    # (None: one of them had no end). A removal past that end is an expiry, even when PIM
    # deactivated the grant earlier and the safety brake held that removal back.
    past_ends: Mapping[Binding, datetime | None] = field(default_factory=dict)
    # Held bindings whose creation is unconfirmed (a stop cut it off, or its call failed): they
    # may exist or not (an asynchronous creation still in progress is not listed yet, a timed
    # out one may have finished), so they are never released, only added again while wanted
    # or removed (removing what is absent costs nothing).
    unconfirmed: frozenset[Binding] = frozenset()
    # Users an incident's revoke blocked (Identity Center user id -> name): granted nothing,
    # whatever PIM says, until unblocked.
    blocked: Mapping[str, str] = field(default_factory=dict)


def plan(desired: Iterable[Grant], actual: Actual, scope: Scope, now: datetime) -> Plan:
    """Every decision of a cycle with its reason: what the ledger records about PIM's grants,
    which bindings to add and remove, which removals the brake holds, what to forget."""
    desired, withheld = _without_blocked(list(desired), actual.blocked)
    verdicts, carried = _grant_verdicts(desired, actual, scope, now)
    keep: dict[Binding, list[Grant]] = defaultdict(list)
    for g in desired:
        if _live_or_given(g, actual, now) and g.target.key in scope.managed:
            keep[binding_of(g)].append(g)
    for g in carried:
        keep[binding_of(g)].append(g)
    present, releases, missing = _present(actual, scope)
    # Gone from AWS and no longer wanted: removed anyway (a no-op in AWS), so its end is
    # recorded and its older sessions denied like any other; only a wanted one is released
    # and added back.
    ended_meanwhile = releases - keep.keys()
    present |= ended_meanwhile
    releases -= ended_meanwhile
    recorded = _recorded_ends(actual.ledger_grants)
    orphaned = {binding_of(e.grant) for e in verdicts.ended if e.reason is Reason.ORPHANED}
    names = {g.user.ic_user_id: g.user.name for g in (*actual.ledger_grants, *desired)}
    shielded = {k for m in scope.unreadable for k in scope.targets_of.get(m, ())}

    adds: list[Change] = []
    removes: list[Change] = []
    found: list[Finding] = [*withheld]
    found += [orphan_finding(g, scope) for g in carried if scope.orphaned(g)]
    for b in sorted((keep.keys() - present) | (keep.keys() & missing)):
        grants = [g for g in keep[b] if not scope.orphaned(g)]
        if not grants or b.target_key not in scope.managed:
            continue  # an orphan keeps what it has until its end, and gains nothing
        g = max(grants, key=_end_sort_key)
        reason = Reason.DRIFT if b in actual.held else Reason.ACTIVATED
        adds.append(Change("add", b, reason, g.mapping, g.user.name, g.not_after))
    for b in sorted(present - keep.keys()):
        if b in actual.held:
            end = actual.past_ends[b] if b in actual.past_ends else recorded.get(b)
            reason = _removal_reason(b, end, now, scope, orphaned)
            removes.append(Change("remove", b, reason, user_name=names.get(b.ic_user_id)))
        elif b.target_key in scope.drift_remove and b.target_key not in shielded:
            removes.append(Change("remove", b, Reason.DRIFT))
            found.append(_drift_finding(b, scope, "removing", names))
        elif b.target_key in scope.not_owned:
            found.append(_drift_finding(b, scope, f"kept, {not_owned_reason()}", names))
        else:
            found.append(_drift_finding(b, scope, None, names))
    removes, held = _brake(removes, recorded, actual, scope, ended_meanwhile, found)
    held_ends = [_end_of(c.binding, actual, recorded) for c in held if c.reason is Reason.EXPIRED]
    # Removals first: when the instance's 20 calls/s are the bottleneck, ending access waits
    # for nobody's new access.
    return Plan(
        changes=(*removes, *adds),
        findings=tuple(found),
        held=tuple(held),
        held_end=min((e for e in held_ends if e is not None), default=None),
        releases=tuple(sorted(releases)),
        grants=verdicts,
    )


def _without_blocked(
    desired: list[Grant], blocked: Mapping[str, str]
) -> tuple[list[Grant], list[Finding]]:
    """PIM's grants less those of blocked users, and a finding per blocked user: their grants
    are neither mirrored nor recorded (a revoked grant stays revoked in the ledger)."""
    if not blocked:
        return desired, []
    withheld: dict[str, int] = defaultdict(int)
    for g in desired:
        if g.user.ic_user_id in blocked:
            withheld[g.user.ic_user_id] += 1
    found = [
        Finding(
            "blocked",
            f"{name} is blocked by `pim-bridge revoke`: {withheld[user]} PIM grant(s) not "
            f"mirrored until `pim-bridge unblock --user {name}`",
        )
        for user, name in sorted(blocked.items(), key=lambda kv: kv[1])
    ]
    return [g for g in desired if g.user.ic_user_id not in blocked], found


def _live_or_given(g: Grant, actual: Actual, now: datetime) -> bool:
    """Live by this clock, or its access already given and its end not reached: Graph lists an
    instance only once PIM started it, so a start ahead of this clock is the clock set back."""
    return g.live_at(now) or (binding_of(g) in actual.held and g.unended_at(now))


def _grant_verdicts(
    desired: list[Grant], actual: Actual, scope: Scope, now: datetime
) -> tuple[GrantVerdicts, list[Grant]]:
    """What the ledger records about PIM's grants, and the ledger grants carried this cycle
    (their mapping could not be read, or is gone: they last until their own recorded end)."""
    listed: dict[tuple[str, str, str, str], Grant] = {}
    for g in desired:
        listed.setdefault(_grant_key(g), g)
    moved: list[Moved] = []
    seen: list[Grant] = []
    ended: list[Ended] = []
    carried: list[Grant] = []
    for g in actual.ledger_grants:
        now_listed = listed.pop(_grant_key(g), None)
        if now_listed is not None:
            _judge_listed(g, now_listed, now, moved, seen, ended)
        elif g.not_after is not None and g.not_after <= now:
            ended.append(Ended(g, Reason.EXPIRED, g.not_after))
        elif scope.orphaned(g):
            # Nothing reads its mapping any more: it lasts until its recorded end, and one
            # without an end, which nothing would ever end, ends now.
            if g.not_after is None:
                ended.append(Ended(g, Reason.ORPHANED, now))
            else:
                carried.append(g)
        elif g.mapping in scope.unreadable:
            if _live_or_given(g, actual, now):
                carried.append(g)
        elif g.not_after is None and not scope.permanent_allowed(g.mapping):
            ended.append(Ended(g, Reason.ORPHANED, now))
        else:
            ended.append(
                Ended(g, Reason.DEACTIVATED, now, scope.pim_ends.get(g.source_instance_id))
            )
    new = tuple(g for g in listed.values() if g.not_after is None or g.not_after > now)
    return GrantVerdicts(new, tuple(moved), tuple(seen), tuple(ended)), carried


def _judge_listed(
    was: Grant,
    now_listed: Grant,
    now: datetime,
    moved: list[Moved],
    seen: list[Grant],
    ended: list[Ended],
) -> None:
    end, before = now_listed.not_after, was.not_after
    if end is not None and end <= now:
        if before is None or end < before:
            # This read moved the end into the past: PIM ended it early. The ledger keeps the
            # end it recorded, so the removal is judged by the brake like a deactivation.
            ended.append(Ended(was, Reason.DEACTIVATED, now, end))
        else:
            ended.append(Ended(now_listed, Reason.EXPIRED, end))
        return
    if end != before or any(
        getattr(now_listed, d) and getattr(now_listed, d) != getattr(was, d) for d in AUDIT_DETAILS
    ):
        moved.append(Moved(now_listed, before))
    else:
        seen.append(was)


def _present(actual: Actual, scope: Scope) -> tuple[set[Binding], set[Binding], set[Binding]]:
    """Bindings that exist now (or may), held bindings gone from AWS (removed out of band), and
    unconfirmed creations AWS does not list."""
    present: set[Binding] = set()
    for key, users in actual.aws_holders.items():
        if key in scope.managed:
            present.update(Binding.of(u, key) for u in users)
    recorded = {binding_of(g) for g in actual.ledger_grants} | actual.past_ends.keys()
    releases: set[Binding] = set()
    missing: set[Binding] = set()
    # One pass over the holdings, not one per managed target: both run to tens of thousands.
    for b in actual.held:
        if b.target_key in actual.aws_holders and b.target_key in scope.managed:
            if b in present:
                continue
            if b in actual.unconfirmed:
                present.add(b)
                missing.add(b)
            else:
                releases.add(b)
        elif b.target_key in scope.managed or b in recorded:
            # Outside every mapping, only what the ledger recorded a grant for is ours to end.
            present.add(b)
            if b in actual.unconfirmed:
                missing.add(b)  # made again while wanted, without waiting for a sweep
    return present, releases, missing


def _removal_reason(
    b: Binding,
    end: datetime | None,
    now: datetime,
    scope: Scope,
    orphaned: set[Binding],
) -> Reason:
    if end is not None and end <= now:
        return Reason.EXPIRED
    if b in orphaned or b.target_key not in scope.managed:
        return Reason.ORPHANED
    return Reason.DEACTIVATED


def _brake(
    removes: list[Change],
    recorded: Mapping[Binding, datetime],
    actual: Actual,
    scope: Scope,
    gone: Set[Binding],
    found: list[Finding],
) -> tuple[list[Change], list[Change]]:
    """The brake guards against a bad read (or a jumping clock) looking like mass removal.
    Expiries at ends the ledger recorded before this read are never held back, nor are the
    removals of bindings already `gone` from AWS: they take nobody's access."""

    def judged(change: Change) -> bool:
        if change.binding in gone:
            return False
        if change.reason is not Reason.EXPIRED:
            return True
        end = _end_of(change.binding, actual, recorded)
        return scope.judge_after is not None and end is not None and end > scope.judge_after

    held = [c for c in removes if judged(c)]
    if len(held) <= scope.max_removals:
        return removes, []
    found.append(
        Finding(
            "safety_brake",
            f"{len(held)} removals exceed safety.max_removals_per_cycle = "
            f"{scope.max_removals}: held back, only expiries applied this cycle",
        )
    )
    return [c for c in removes if not judged(c)], held


def _end_of(
    binding: Binding, actual: Actual, recorded: Mapping[Binding, datetime]
) -> datetime | None:
    return actual.past_ends.get(binding) or recorded.get(binding)


def orphan_finding(grant: Grant, scope: Scope) -> Finding:
    end = f"{grant.not_after:%Y-%m-%d %H:%M:%SZ}" if grant.not_after else "no end"
    detail = (
        f"{grant.user.name} -> {scope.label(grant.target.key)}: mapping {grant.mapping!r} "
        f"no longer names it; removed at its recorded end ({end})"
    )
    return Finding("orphan", detail, grant.mapping)


def _drift_finding(
    binding: Binding, scope: Scope, action: str | None, names: Mapping[str, str]
) -> Finding:
    user = names.get(binding.ic_user_id)
    target = scope.label(binding.target_key)
    key = binding.target_key
    mapping = min((m for m, keys in scope.targets_of.items() if key in keys), default=None)
    detail = f"{_who(user, binding.ic_user_id)} on {target} has no PIM basis"
    return Finding(
        "drift",
        f"{detail}: {action}" if action else detail,
        mapping,
        user=user,
        user_id=binding.ic_user_id,
        target=target,
    )


def named_drift(finding: Finding, user: str) -> Finding:
    """A drift finding about a user no grant named (added to the target out of band), with the
    name Identity Center gave them in place of their id."""
    if finding.kind != "drift" or finding.user or not finding.user_id:
        return finding
    rest = finding.detail.removeprefix(finding.user_id)
    return replace(finding, detail=_who(user, finding.user_id) + rest, user=user)


def _who(name: str | None, user_id: str) -> str:
    # The id too: a user added out of band is looked for in Identity Center by it.
    return f"{name} ({user_id})" if name else user_id


def binding_of(grant: Grant) -> Binding:
    return Binding(grant.user.ic_user_id, grant.target)


def _grant_key(grant: Grant) -> tuple[str, str, str, str]:
    # An instance has one principal in Graph; two listed under one id (a malformed payload)
    # are two grants, so neither displaces the other's in the ledger.
    return (grant.mapping, grant.source_instance_id, grant.user.principal_id, grant.target.key)


def _end_sort_key(grant: Grant) -> datetime:
    return grant.not_after or datetime.max.replace(tzinfo=grant.not_before.tzinfo)


def _recorded_ends(ledger: Iterable[Grant]) -> dict[Binding, datetime]:
    out: dict[Binding, datetime] = {}
    for g in ledger:
        if g.not_after is None:
            continue
        b = binding_of(g)
        out[b] = max(out.get(b, g.not_after), g.not_after)
    return out
