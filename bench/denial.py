"""Session denial at scale: 1,000 grants across 50 permission sets (20 users each, on 5
accounts) end in the same second, and every user holds an AWS session issued before it.

    python -m bench.denial [--users 1000] [--permission-sets 50] [--accounts 5] [--lead 60]

The service runs as in production: its poll, its arming tick (each end armed ahead, one write
and one provisioning per permission set), its expiry date job at the end; the AWS sandbox
with 60 ms per call, 0.5 s per asynchronous Identity Center request and Identity Center's
20 calls/s enforced, Graph with 80 ms per call. A watcher outside the bridge asks the sandbox,
every 50 ms, which of the sessions not yet refused are still allowed; per session, the
figure is the time from the end second until it is refused (target: p99 within 2 s). Inline
policies and one SCP side by side, each in a world of its own.

Then how many denials one policy holds before overflow (`bench.denial_capacity`): derived from
the size limits and confirmed by writing them. Figures: bench/results/denial.json.

Seeding (users, eligibilities, activations, assignments) is not measured: the assignments are
created by the sandbox's seeding at once, and a first cycle, with no limit yet, records the
grants in the ledger as a running bridge would have.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import denial_capacity
from bench.latency import scp_policy, summary
from bridge.config import config_from_dict
from bridge.sandbox.world import World, running_world
from bridge.service import Service
from bridge.wiring import build

RESULTS = Path(__file__).parent / "results"
TARGET = 2.0  # end second -> every older session refused, p99
GRAPH_LATENCY = 0.080
AWS_LATENCY = 0.060
ASYNC_DELAY = 0.5
CEILING = 20.0  # Identity Center admin API calls per second
# How long after the end the watcher waits for the last session before calling it never refused.
PATIENCE = timedelta(minutes=4)


@dataclass
class Tenant:
    """User j is eligible for (and active in) group j % len(groups), mapped to permission set
    j % len(groups) on account (j % len(groups)) % len(accounts)."""

    groups: list[str] = field(default_factory=list)  # Entra group ids
    permission_sets: list[str] = field(default_factory=list)  # ARNs
    accounts: list[str] = field(default_factory=list)
    entra_users: list[str] = field(default_factory=list)
    ic_users: list[str] = field(default_factory=list)

    def place(self, j: int) -> tuple[str, str, str]:
        """User j's group, permission set and account."""
        i = j % len(self.groups)
        return self.groups[i], self.permission_sets[i], self.accounts[i % len(self.accounts)]


def seed(world: World, users: int, sets: int, accounts: int) -> Tenant:
    t = Tenant(accounts=[f"4000000000{n:02d}" for n in range(accounts)])
    for i in range(sets):
        t.groups.append(world.graph.add_group(f"PIM-denial-{i:02d}"))
        t.permission_sets.append(world.aws.create_permission_set(f"Denial-{i:02d}", "PT1H"))
    actor = world.graph.actor()
    for j in range(users):
        upn = f"d{j:04d}@example.com"
        entra = world.graph.add_user(upn, f"User {j}")
        # One at a time: moto's identity store is not safe for concurrent CreateUser.
        ic = world.aws.create_user(upn, f"User {j}", upn)
        group, ps, account = t.place(j)
        world.graph.add_eligibility(entra, group)
        actor.activate(entra, group, timedelta(hours=1), f"denial bench {j}")
        world.aws.assign(account, ps, ic)
        t.entra_users.append(entra)
        t.ic_users.append(ic)
    return t


def config_data(world: World, t: Tenant, store: str, mechanism: str) -> dict[str, Any]:
    data = world.config_dict(store, poll_interval="15s", drift_interval="10m")
    data["mappings"] = [
        {
            "name": f"denial-{i:02d}",
            "entra_group_id": group,
            "assignments": [
                {"account_id": t.accounts[i % len(t.accounts)], "permission_set": f"Denial-{i:02d}"}
            ],
        }
        for i, group in enumerate(t.groups)
    ]
    data["revocation"] = {"mechanism": mechanism, **scp_policy(world, mechanism)}
    return data


def cut_ends(world: World, lead: float) -> datetime:
    """Every live grant now ends at one whole second `lead` seconds away, as when an admin
    shortens them in PIM; the service's first poll records the new ends."""
    end = (datetime.now(UTC) + timedelta(seconds=lead)).replace(microsecond=0)
    tenant = world.graph.tenant
    with tenant.lock:
        tenant.instances = [
            replace(inst, end=end) if inst.end is not None and inst.end > end else inst
            for inst in tenant.instances
        ]
    return end


@dataclass
class Watcher:
    """From outside the bridge: which sessions the sandbox refuses, and since when."""

    world: World
    sessions: list[str]
    end: datetime
    refused: dict[str, datetime] = field(default_factory=dict)
    early: set[str] = field(default_factory=set)  # refused before the end: a wrong denial
    sweeps: int = 0

    def run(self) -> None:
        waiting = set(self.sessions)
        deadline = self.end + PATIENCE
        while waiting and datetime.now(UTC) < deadline:
            now = datetime.now(UTC)
            allowed = self.world.aws.still_allowed(waiting, now=now)
            for session in waiting - allowed:
                self.refused[session] = now
                if now < self.end:
                    self.early.add(session)
            waiting = allowed
            self.sweeps += 1
            time.sleep(0.05)


def sign_in(world: World, t: Tenant) -> list[str]:
    now = datetime.now(UTC)
    out = []
    for j, user in enumerate(t.ic_users):
        _, ps, account = t.place(j)
        out.append(world.aws.issue_session(user, ps, account, now))
    return out


def measure(mechanism: str, users: int, sets: int, accounts: int, lead: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, running_world() as world:
        world.export_env()
        t = seed(world, users, sets, accounts)
        data = config_data(world, t, f"sqlite:///{Path(tmp) / 'denial.db'}", mechanism)
        bridge = build(config_from_dict(data, {}))
        first = bridge.reconciler.cycle(kind="sync")
        if first.failed:
            raise SystemExit(f"the seeding cycle failed: {first.failed[:3]}")
        sessions = sign_in(world, t)
        world.graph.latency, world.aws.latency = GRAPH_LATENCY, AWS_LATENCY
        world.aws.async_delay = ASYNC_DELAY
        world.aws.set_rate_limit(CEILING)
        end = cut_ends(world, lead)
        watcher = Watcher(world, sessions, end)
        watching = threading.Thread(target=watcher.run, name="denial-watcher", daemon=True)
        service = Service(bridge)
        calls0, throttled0 = sum(world.aws.calls.values()), world.aws.throttled
        service.start()
        watching.start()
        watching.join()
        service.stop()
        calls = sum(world.aws.calls.values()) - calls0
    times = [(at - end).total_seconds() for at in watcher.refused.values()]
    never = len(sessions) - len(times)
    # A session never refused counts as refused infinitely late (JSON: null).
    figures: dict[str, Any] = {
        k: None if isinstance(v, float) and math.isinf(v) else v
        for k, v in summary(times + [math.inf] * never).items()
    }
    figures.update(
        sessions=len(sessions),
        never_refused=never,
        refused_before_end=len(watcher.early),
        watcher_sweeps=watcher.sweeps,
        ic_calls=calls,
        ic_throttled=world.aws.throttled - throttled0,
    )
    return figures


def table(doc: dict[str, Any]) -> str:
    lines = [
        f"denial: {doc['users']} grants ending in one second across {doc['permission_sets']} "
        f"permission sets on {doc['accounts']} accounts; AWS {AWS_LATENCY * 1000:.0f} ms/call, "
        f"async {ASYNC_DELAY:g} s, {CEILING:g} calls/s; load {doc['load_before']:.1f}",
        f"{'end -> older session refused':30} {'n':>5} {'p50':>7} {'p95':>7} {'p99':>7} "
        f"{'max':>7}  target  ratio",
    ]
    for mechanism in ("inline", "scp"):
        if mechanism not in doc:
            continue
        s = doc[mechanism]
        cells = " ".join(f"{_seconds(s[k]):>7}" for k in ("p50", "p95", "p99", "max"))
        ratio = "-" if s["p99"] is None else f"{s['p99'] / TARGET:.2f}"
        lines.append(
            f"  {mechanism:28} {s['sessions']:>5} {cells}  <= {TARGET:g} s  {ratio}"
            + (f"  ({s['never_refused']} never refused)" if s["never_refused"] else "")
        )
    lines.append("denials one policy holds (derived = written): armed, in force, coalesced")
    for mechanism, c in doc["capacity"].items():
        d, w = c["derived"], c["written"]
        cells = "  ".join(f"{k} {d[k]} = {w[k]}" for k in ("armed", "in_force", "coalesced"))
        lines.append(f"  {mechanism:6} {c['limit']:>6} chars: {cells}")
    return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f}"


def capacity() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, running_world() as world:
        world.export_env()
        config = config_from_dict(world.config_dict(f"sqlite:///{Path(tmp) / 'c.db'}"), {})
        return denial_capacity.confirm(world, config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--permission-sets", type=int, default=50)
    parser.add_argument("--accounts", type=int, default=5)
    parser.add_argument("--lead", type=float, default=60.0, help="seconds from start to the end")
    parser.add_argument("--mechanisms", default="inline,scp")
    args = parser.parse_args(argv)
    logging.getLogger("bridge").setLevel(logging.CRITICAL)
    # A burst holds the scheduler's interval jobs past their next run: said once per skip.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    doc: dict[str, Any] = {
        "users": args.users,
        "permission_sets": args.permission_sets,
        "accounts": args.accounts,
        "lead_s": args.lead,
        "target_p99_s": TARGET,
        "load_before": os.getloadavg()[0],
    }
    for mechanism in args.mechanisms.split(","):
        doc[mechanism] = measure(
            mechanism, args.users, args.permission_sets, args.accounts, args.lead
        )
        print(f"{mechanism}: {json.dumps(doc[mechanism])}", flush=True)
    doc["capacity"] = capacity()
    doc["load_after"] = os.getloadavg()[0]
    doc["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "denial.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(table(doc))
    p99s = [doc[m]["p99"] for m in args.mechanisms.split(",")]
    met = all(p is not None and p <= TARGET for p in p99s)
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
