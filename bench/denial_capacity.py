"""How many denials one policy holds before overflow, inline and SCP: derived from the size
limits the bridge writes within (`bridge.denial.capacity`), then confirmed by writing them one
user at a time through the bridge's own writer (`Revoker`) into the sandbox until it reports
what the figure predicts: an arming that gives way, statements coalesced, a policy full.

User ids are shaped like Identity Center's (a 10-character store prefix and a UUID, 47
characters): a statement's size depends on the id's length and nothing else about it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from bridge.config import Config
from bridge.denial.capacity import Capacity, capacity, same_length_ids
from bridge.denial.policy import COALESCED_SID, POLICY_LIMIT
from bridge.denial.writer import DenialReport, Revoker
from bridge.identity_center.adapter import AwsIdentityCenter
from bridge.identity_center.client import make_client_factory
from bridge.identity_center.scp import ALLOW_ALL, SCP_LIMIT, ScpTarget
from bridge.model import AccountAssignment, Binding, Change, Reason
from bridge.ports import PolicyTarget
from bridge.sandbox.world import World

ACCOUNT = "500000000000"
# Enough users to pass every figure: the largest (coalesced, inline) is 200.
MOST = 400


def derived() -> dict[str, Capacity]:
    # The SCP keeps the Allow-all it cannot do without (`ScpTarget.write`).
    allow = json.loads(ALLOW_ALL)["Statement"]
    return {"inline": capacity(POLICY_LIMIT), "scp": capacity(SCP_LIMIT, allow)}


def confirm(world: World, config: Config) -> dict[str, Any]:
    """Both mechanisms' figures, derived and as written."""
    world.aws.client("organizations").create_organization(FeatureSet="ALL")
    expected = derived()
    out: dict[str, Any] = {}
    for mechanism in ("inline", "scp"):
        target = Counting(world, config, mechanism)
        written = {
            "armed": target.count(arming),
            "in_force": target.count(individually),
            "coalesced": target.count(until_full),
        }
        out[mechanism] = {
            "limit": expected[mechanism].limit,
            "derived": {k: v for k, v in asdict(expected[mechanism]).items() if k != "limit"},
            "written": written,
        }
    return out


# One step: write the k-th user's denial; True once the figure is passed (this one did not fit).
Step = Callable[["Counting", int], bool]


class Counting:
    """A fresh policy per figure (a permission set, or an SCP), written through the bridge."""

    def __init__(self, world: World, config: Config, mechanism: str) -> None:
        self.world, self.mechanism = world, mechanism
        self.ic = AwsIdentityCenter(config.aws, calls_per_second=None)
        self.factory = make_client_factory(config.aws)
        self.users = same_length_ids(MOST)
        self.at = datetime.now(UTC).replace(microsecond=0)
        self.revoker = Revoker(self.ic)
        self.permission_set = ""
        self.scp: PolicyTarget | None = None
        self._fresh = 0

    def count(self, step: Step) -> int:
        """How many users' denials were written before `step` says the next did not fit."""
        self._new_policy()
        for k in range(MOST):
            if step(self, k):
                return k
        raise RuntimeError(f"{MOST} denials fitted one policy: raise MOST")

    def _new_policy(self) -> None:
        self._fresh += 1
        name = f"Capacity-{self.mechanism}-{self._fresh}"
        self.permission_set = self.world.aws.create_permission_set(name, "PT1H")
        self.scp = None
        if self.mechanism == "scp":
            policy_id = self.world.aws.client("organizations").create_policy(
                Content=ALLOW_ALL, Description=name, Name=name, Type="SERVICE_CONTROL_POLICY"
            )["Policy"]["PolicySummary"]["Id"]
            self.scp = ScpTarget(policy_id, self.factory, lambda: timedelta(hours=1))
        self.revoker = Revoker(self.ic, scp=self.scp)

    def binding(self, k: int) -> Binding:
        return Binding(self.users[k], AccountAssignment(ACCOUNT, self.permission_set))

    def deny(self, k: int) -> DenialReport:
        change = Change("remove", self.binding(k), Reason.EXPIRED)
        return self.revoker.deny([change], self.at)

    def document(self) -> str:
        if self.scp is not None:
            return self.scp.read()
        return self.ic.get_inline_policy(self.permission_set)


def arming(c: Counting, k: int) -> bool:
    end = c.at + timedelta(minutes=10)
    report = c.revoker.arm({c.binding(k): (end + timedelta(seconds=4), end)})
    return bool(report.unarmed)


def individually(c: Counting, k: int) -> bool:
    c.deny(k)
    return COALESCED_SID in c.document()


def until_full(c: Counting, k: int) -> bool:
    return any("is full" in p for p in c.deny(k).problems)
