"""How many denials one policy holds, from the size limit the bridge writes it within
(`bridge.denial.policy._laid_out`): armed statements, one per user (beyond them, armings give way
and those users are denied at their removal instead); denials in force, one statement per user
(beyond them, they are coalesced); and denials in force coalesced into one statement listing
every user (beyond them, overflow: nothing is written and a `denial` failure is reported).
Armed statements give way to denials in force, so the last figure is the policy's ceiling."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bridge.denial.policy import (
    COALESCED_SID,
    TYPICAL_USER_ID,
    VERSION,
    deny_statement,
    policy_size,
    sid_for,
)

Statements = Callable[[list[str]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Capacity:
    """Users' denials one policy holds alone (nothing else of the bridge's in it)."""

    limit: int
    armed: int  # armed statements before armings give way
    in_force: int  # denials in force, one statement each, before they are coalesced
    coalesced: int  # denials in force coalesced into one statement, before overflow


def same_length_ids(n: int, like: str = TYPICAL_USER_ID) -> list[str]:
    """`n` distinct user ids shaped like `like` (its letters and digits replaced by a count):
    a statement's size depends on nothing else."""
    slots = [i for i, c in enumerate(like) if c.isalnum()]
    out = []
    for k in range(n):
        chars = list(like)
        for i, digit in zip(slots, f"{k:0{len(slots)}d}", strict=True):
            chars[i] = digit
        out.append("".join(chars))
    return out


def capacity(
    limit: int, foreign: Sequence[dict[str, Any]] = (), like: str = TYPICAL_USER_ID
) -> Capacity:
    """The three figures for a policy of `limit` characters already holding `foreign`
    statements (an SCP's Allow, say), for user ids as long as `like`."""
    now = datetime.now(UTC).replace(microsecond=0)

    def armed(users: list[str]) -> list[dict[str, Any]]:
        return [deny_statement([u], now, sid_for(u) + "Armed", now) for u in users]

    def one_each(users: list[str]) -> list[dict[str, Any]]:
        return [deny_statement([u], now, sid_for(u)) for u in users]

    def coalesced(users: list[str]) -> list[dict[str, Any]]:
        return [deny_statement(users, now, COALESCED_SID)] if users else []

    return Capacity(
        limit,
        _most(armed, limit, foreign, like),
        _most(one_each, limit, foreign, like),
        _most(coalesced, limit, foreign, like),
    )


def _most(statements: Statements, limit: int, foreign: Sequence[dict[str, Any]], like: str) -> int:
    """The most users whose `statements` fit: past the first (one user's statement names them
    alone, not in a list), a document grows by the same amount with each user of the same id
    length, so three sizes give the rest."""

    def size(n: int) -> int:
        users = same_length_ids(n, like)
        body = {"Version": VERSION, "Statement": [*foreign, *statements(users)]}
        return policy_size(json.dumps(body, separators=(",", ":")))

    one, two, three = size(1), size(2), size(3)
    if one > limit:
        return 0
    if two > limit:
        return 1
    return 2 + (limit - two) // (three - two)
