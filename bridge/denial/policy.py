"""The Deny statements that close the post-expiry session window, as a pure rewrite of a policy
document.

Removing an assignment stops new AWS sessions, not ones already issued: those live until the
permission set's session duration runs out. AWS's remedy is an explicit Deny keyed on
`identitystore:userId`; the bridge adds the time condition `aws:TokenIssueTime < revocation`, so
a later activation's fresh session is not denied. An *armed* denial also carries
`aws:CurrentTime` at or after a grant's end: inert until that second, in force from it. A
*block* (an incident's `pim-bridge revoke`) has no time bound at all: every session of the user,
whenever issued, is denied until `pim-bridge unblock` turns it into an ordinary denial of the
sessions issued before that moment.

`merge_denials()` keeps every statement the bridge did not write exactly as it was (a statement
is the bridge's only when it is exactly what `deny_statement` or `block_statement` writes, Sid
included: a foreign
`PimBridgeDenyContractors` is foreign), prunes our statements once no session they could match
can still be alive, and stays under the 10,240-character limit. A document it cannot rewrite
without damage (not an object, a `Statement` that is neither a statement nor a list of them)
raises `MalformedPolicy` and is left as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

SID_PREFIX = "PimBridgeDeny"
COALESCED_SID = f"{SID_PREFIX}Coalesced"
BLOCKED_SUFFIX = "Blocked"
# Identity Center counts the inline policy without white space.
POLICY_LIMIT = 10_240
VERSION = "2012-10-17"


class MalformedPolicy(ValueError):
    """An inline policy that is JSON but not a policy document the bridge can safely rewrite."""


@dataclass(frozen=True)
class Denial:
    """Deny the user's sessions issued before `revoked_at`; from `effective_at` on when given
    (an *armed* denial, written before the grant's end so that it is in force at that second),
    else at once."""

    ic_user_id: str
    revoked_at: datetime
    effective_at: datetime | None = None


@dataclass
class Merge:
    document: str
    added: list[str] = field(default_factory=list)  # user ids newly denied or moved later
    pruned: list[str] = field(default_factory=list)  # user ids whose denial is no longer needed
    coalesced: bool = False
    overflow: bool = False  # even coalesced, the denials do not fit: nothing written
    # Armed denials left out (or taken out) for want of room: denials in force come first, and
    # these users are denied when their removal runs instead.
    unarmed: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # user ids newly blocked
    unblocked: list[str] = field(default_factory=list)  # user ids whose block was lifted

    @property
    def changed(self) -> bool:
        return bool(self.added or self.pruned or self.coalesced or self.blocked or self.unblocked)


def policy_size(document: str) -> int:
    return len(re.sub(r"\s", "", document))


def sid_for(user_id: str) -> str:
    return SID_PREFIX + re.sub(r"[^A-Za-z0-9]", "", user_id)


def denial_bound(when: datetime) -> datetime:
    """The `aws:TokenIssueTime` a denial at `when` is written with: whole seconds, rounded up.
    A session issued in the same second as the revocation was issued before it (no access
    exists after it), so it must be denied too; a session issued from this moment on is not."""
    when = when.astimezone(UTC)
    if when.microsecond:
        when = when.replace(microsecond=0) + timedelta(seconds=1)
    return when


def iso_bound(when: datetime) -> str:
    return denial_bound(when).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def deny_statement(
    user_ids: Sequence[str], before: datetime, sid: str, effective_at: datetime | None = None
) -> dict[str, Any]:
    users: str | list[str] = user_ids[0] if len(user_ids) == 1 else sorted(user_ids)
    condition: dict[str, Any] = {
        "StringEquals": {"identitystore:userId": users},
        "DateLessThan": {"aws:TokenIssueTime": iso_bound(before)},
    }
    if effective_at is not None:
        # Rounded up like the bound: never in force before the grant's end.
        condition["DateGreaterThanEquals"] = {"aws:CurrentTime": iso_bound(effective_at)}
    return {"Sid": sid, "Effect": "Deny", "Action": "*", "Resource": "*", "Condition": condition}


def block_statement(user_id: str) -> dict[str, Any]:
    """Deny every session of the user whenever it was issued: no `aws:TokenIssueTime` bound,
    so it is never pruned and stays until the user is unblocked."""
    return {
        "Sid": sid_for(user_id) + BLOCKED_SUFFIX,
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"StringEquals": {"identitystore:userId": user_id}},
    }


def _our_block(stmt: dict[str, Any]) -> str | None:
    """The user `stmt` blocks if it is exactly what `block_statement` writes for them."""
    try:
        user = stmt["Condition"]["StringEquals"]["identitystore:userId"]
    except (KeyError, TypeError):
        return None
    if not isinstance(user, str) or not user:
        return None
    return user if stmt == block_statement(user) else None


def _our_denials(stmt: dict[str, Any]) -> list[Denial] | None:
    """The denials in `stmt` if the bridge wrote it, else None: its Sid and every field must be
    exactly what `deny_statement` writes for them, so that a statement of someone else's whose
    Sid merely starts with the prefix is never read, rewritten or pruned."""
    sid = stmt.get("Sid")
    if not isinstance(sid, str) or not sid.startswith(SID_PREFIX):
        return None
    try:
        denials = _denials_in(stmt)
        first = denials[0]
        users = [d.ic_user_id for d in denials]
        written = deny_statement(users, first.revoked_at, sid, first.effective_at)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError, OverflowError):
        return None
    if stmt != written:
        return None
    own = (
        {COALESCED_SID}
        if len(users) > 1
        else {COALESCED_SID, sid_for(users[0]), sid_for(users[0]) + "Armed"}
    )
    return denials if sid in own else None


def _denials_in(stmt: dict[str, Any]) -> list[Denial]:
    cond = stmt["Condition"]
    users = cond["StringEquals"]["identitystore:userId"]
    users = [users] if isinstance(users, str) else users
    if not all(isinstance(u, str) and u for u in users):
        raise TypeError("user ids are strings")
    before = _parse_iso(cond["DateLessThan"]["aws:TokenIssueTime"])
    start = cond.get("DateGreaterThanEquals", {}).get("aws:CurrentTime")
    effective = _parse_iso(start) if start else None
    return [Denial(u, before, effective) for u in users]


def _statements(document: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The policy and its statements. Raises ValueError when it is not JSON, MalformedPolicy
    when it is JSON but rewriting it would damage it."""
    policy = json.loads(document) if document.strip() else {}
    if not isinstance(policy, dict):
        raise MalformedPolicy(f"the document is a JSON {type(policy).__name__}, not an object")
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        raise MalformedPolicy("its Statement is neither a statement nor a list of statements")
    if not all(isinstance(stmt, dict) for stmt in statements):
        raise MalformedPolicy("one of its statements is not a JSON object")
    return policy, statements


@dataclass
class _Ours:
    """The bridge's denials in one policy: per user, the latest in force and one armed."""

    now: datetime
    in_force: dict[str, datetime] = field(default_factory=dict)
    blocked: set[str] = field(default_factory=set)
    armed: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)  # (bound, from)

    def take(self, d: Denial) -> bool:
        """Keep `d` if it adds anything; True when it did."""
        if d.effective_at is not None and d.effective_at > self.now:
            if self.armed.get(d.ic_user_id) == (d.revoked_at, d.effective_at):
                return False
            self.armed[d.ic_user_id] = (d.revoked_at, d.effective_at)
            return True
        # An armed denial whose moment has come is simply in force.
        if d.revoked_at <= self.in_force.get(d.ic_user_id, datetime.min.replace(tzinfo=UTC)):
            return False
        self.in_force[d.ic_user_id] = d.revoked_at
        return True

    def prune(self, session_duration: timedelta) -> list[str]:
        # A session issued before the revocation is dead once the session duration has passed.
        gone = [u for u, at in self.in_force.items() if at <= self.now - session_duration]
        for user in gone:
            del self.in_force[user]
        return gone

    def block(self, users: Iterable[str], unblock: Iterable[str], out: Merge) -> None:
        wanted, lifted = set(users), set(unblock)
        out.blocked.extend(sorted(wanted - self.blocked))
        out.unblocked.extend(sorted(lifted & self.blocked))
        self.blocked = (self.blocked | wanted) - lifted

    def block_statements(self) -> list[dict[str, Any]]:
        return [block_statement(u) for u in sorted(self.blocked)]

    def in_force_statements(self) -> list[dict[str, Any]]:
        return [deny_statement([u], at, sid_for(u)) for u, at in sorted(self.in_force.items())]

    def coalesced(self) -> list[dict[str, Any]]:
        # One statement for all in force: denies a little more (sessions issued between a
        # user's own revocation and the latest one), never less. Armed denials stay apart:
        # merged, they would take effect at the earliest end.
        latest = max(self.in_force.values())
        return [deny_statement(sorted(self.in_force), latest, COALESCED_SID)]

    def waiting(self) -> list[tuple[str, tuple[datetime, datetime]]]:
        # Soonest end first: when room runs out, the armings furthest off give way.
        return sorted(self.armed.items(), key=lambda kv: (kv[1][1], kv[0]))


def merge_denials(
    document: str,
    new: Iterable[Denial],
    now: datetime,
    session_duration: timedelta,
    limit: int = POLICY_LIMIT,
    disarm: Iterable[str] = (),
    block: Iterable[str] = (),
    unblock: Iterable[str] = (),
) -> Merge:
    """The inline policy with `new` denials merged in, `disarm`'s armed denials withdrawn,
    `block`'s users blocked and `unblock`'s no longer, and stale denials pruned.

    A user has at most one denial in force (the latest bound wins) and one armed for a grant's
    end still to come (a newer arming replaces it: the end moved). Raises ValueError
    (MalformedPolicy among them) for a document it cannot rewrite safely."""
    policy, statements = _statements(document)
    ours = _Ours(now)
    foreign: list[dict[str, Any]] = []
    for stmt in statements:
        mine = _our_denials(stmt)
        blocked = _our_block(stmt) if mine is None else None
        if blocked is not None:
            ours.blocked.add(blocked)
        elif mine is None:
            foreign.append(stmt)
        for d in mine or ():
            ours.take(d)
    armed_before = dict(ours.armed)
    out = Merge(document)
    fired: set[str] = set()
    for d in new:
        if ours.take(d):
            out.added.append(d.ic_user_id)
            if d.effective_at is None or d.effective_at <= now:
                fired.add(d.ic_user_id)
    out.pruned.extend(u for u in disarm if ours.armed.pop(u, None) is not None)
    out.pruned.extend(ours.prune(session_duration))
    ours.block(block, unblock, out)
    if not out.changed:
        return out
    return _laid_out(policy, foreign, ours, out, limit, fired, set(armed_before))


def _laid_out(
    policy: dict[str, Any],
    foreign: list[Any],
    ours: _Ours,
    out: Merge,
    limit: int,
    fired: set[str],
    armed_before: set[str],
) -> Merge:
    """Write the merged statements within `limit`: coalesce those in force if need be, then
    let armings give way, furthest end first; overflow when even that does not fit."""

    def render(mine: list[dict[str, Any]]) -> str:
        body = {
            "Version": policy.get("Version", VERSION),
            **{k: v for k, v in policy.items() if k not in ("Version", "Statement")},
            "Statement": foreign + mine,
        }
        return json.dumps(body, separators=(",", ":"))

    waiting = ours.waiting()

    def pending() -> list[dict[str, Any]]:
        return [
            deny_statement([u], before, sid_for(u) + "Armed", start)
            for u, (before, start) in waiting
        ]

    # Blocks first and never coalesced: each is an incident's, lifted on its own.
    blocks = ours.block_statements()
    mine = blocks + ours.in_force_statements()
    if policy_size(render(mine)) > limit and ours.in_force:
        out.coalesced = True
        mine = blocks + ours.coalesced()
    if policy_size(render(mine)) > limit:
        out.overflow = True
        return out
    candidate = render(mine + pending())
    while policy_size(candidate) > limit:
        out.unarmed.append(waiting.pop()[0])
        candidate = render(mine + pending())
    if out.unarmed:
        dropped = set(out.unarmed)
        out.added = [u for u in out.added if u in fired or u not in dropped]
        if not (out.changed or dropped & armed_before):
            return Merge(out.document, unarmed=out.unarmed)
    if not foreign and not mine and not waiting:
        candidate = ""
    out.document = candidate
    return out


# An Identity Store user id: a UUID, optionally after a 10-character store prefix.
TYPICAL_USER_ID = "0123456789-01234567-89ab-cdef-0123-456789abcdef"


def headroom(
    in_force: Iterable[str], armed: Iterable[str], now: datetime, limit: int = POLICY_LIMIT
) -> int:
    """How many more users' denials fit, one statement each, in a policy holding these (and
    nothing of anyone else's) before the bridge must coalesce them: 0 when it already must."""
    statements = [deny_statement([u], now, sid_for(u)) for u in sorted(set(in_force))]
    statements += [deny_statement([u], now, sid_for(u) + "Armed", now) for u in sorted(set(armed))]

    def size(mine: list[dict[str, Any]]) -> int:
        return policy_size(json.dumps({"Version": VERSION, "Statement": mine}))

    used = size(statements)
    one = size([*statements, deny_statement([TYPICAL_USER_ID], now, sid_for(TYPICAL_USER_ID))])
    return max(0, (limit - used) // max(1, one - used))
