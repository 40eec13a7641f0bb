"""Entra group membership as PIM makes it: a principal is a member of a group while one of its
`member` instances there is live, but Entra applies an activation, a deactivation or an
expiry to the group's members only a moment later (1-3 s by default), on the tenant's clock.

Membership is a function of time over the tenant's instances, so what a delta token saw at
any moment can be computed again: the delta route needs to keep no history."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.sandbox.graph.tenant import Instance, Tenant


@dataclass
class MembershipDelay:
    """How long Entra takes to apply an instance's start or end to the group's members: a
    fixed fraction of [low, high] per instance, so every read agrees on it."""

    low: float = 1.0
    high: float = 3.0

    def of(self, instance: Instance, edge: str) -> timedelta:
        digest = hashlib.sha256(f"{instance.id}:{edge}".encode()).digest()
        fraction = int.from_bytes(digest[:4], "big") / 0xFFFFFFFF
        return timedelta(seconds=self.low + (self.high - self.low) * fraction)


def members_at(
    tenant: Tenant, group_id: str, when: datetime, delay: MembershipDelay
) -> frozenset[str]:
    """The principals Entra lists as members of `group_id` at `when`."""
    return frozenset(
        i.principal_id
        for i in tenant.instances_of(group_id)
        if i.access_id == "member" and _applied(i, when, delay)
    )


def _applied(instance: Instance, when: datetime, delay: MembershipDelay) -> bool:
    if when < instance.start + delay.of(instance, "start"):
        return False
    return instance.end is None or when < instance.end + delay.of(instance, "end")
