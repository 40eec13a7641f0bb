"""Latency benchmark: how long access arrives after activation and lingers after PIM ends it,
measured on the sandbox in real time with per-call latency injected, beside the native SCIM
path for the same story.

    python -m bench.latency [--grants 200] [--poll 15] [--modes poll,watch]

The story runs once per mode, side by side: `poll`, the bridge without the membership watcher
(every `--poll` seconds), and `watch`, the bridge watching group delta every 2 s with the
default 5-minute safety-net poll, the sandbox applying PIM's changes to the groups' members
1-3 s late, as Entra does.

Figures come from two observers: a watcher independent of the bridge, which every 200 ms lists
the Identity Center group through boto3 and asks the sandbox whether each user's AWS session
(signed in while they held access) is still allowed; and the bridge's ledger (assignment
deletion and permission-set provisioning are timed when AWS reported SUCCEEDED; a denial armed
ahead of the end was provisioned before it, so its figure is negative).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from sqlalchemy import select

from bridge.config import config_from_dict
from bridge.sandbox.world import ACCOUNT_PROD, World, running_world
from bridge.schema import changes, denials, grants
from bridge.service import Service
from bridge.wiring import build

RESULTS = Path(__file__).parent / "results"
GRAPH_LATENCY = 0.080
AWS_LATENCY = 0.060
ASYNC_DELAY = 0.5
# Native path (SCIM provisioning alone, README.md "Why"): SCIM exports activations in 2-10
# minutes and removals at the regular cycle, about every 40 minutes; sessions then live for the
# permission set's duration.
SCIM_CYCLE = 40 * 60.0
SESSION_DURATION = 3600.0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": pct(values, 50),
        "p95": pct(values, 95),
        "p99": pct(values, 99),
        "max": max(values) if values else float("nan"),
    }


@dataclass
class Person:
    name: str
    entra_id: str
    ic_id: str
    asked: datetime | None = None
    seconds: int = 0
    kind: str = "expire"  # expire | deactivate | extend
    ended: datetime | None = None  # endDateTime, or when deactivation was asked


@dataclass
class Watcher:
    """Looks from the outside every 200 ms: who is in the Identity Center group, and whether
    each user's AWS session, signed in while they held access, still works."""

    world: World
    people: dict[str, Person]
    seen: dict[str, datetime] = field(default_factory=dict)
    gone: dict[str, datetime] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)  # ic user id -> session id
    denied: dict[str, datetime] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        client = self.world.aws.client("identitystore", max_attempts=5)
        pages = client.get_paginator("list_group_memberships")
        present: set[str] = set()
        while not self.stop.is_set():
            now = datetime.now(UTC)
            current = self.members(pages)
            if current is None:
                continue
            for u in current - present:
                self.seen.setdefault(u, now)
            for u in present - current:
                self.gone[u] = now
            present = current
            self.sign_in(current)
            self.check_sessions()
            time.sleep(0.2)

    def members(self, pages: Any) -> set[str] | None:
        """The group's members now; None when a page token went stale because a membership it
        pointed at was removed between pages (the sandbox answers `InvalidToken`, as paging
        through a list that changes may): the next look lists again from the start."""
        try:
            return {
                m["MemberId"]["UserId"]
                for page in pages.paginate(
                    IdentityStoreId=self.world.aws.identity_store_id, GroupId=self.world.ic_group_id
                )
                for m in page["GroupMemberships"]
            }
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "InvalidToken":
                raise
            return None

    def sign_in(self, members: set[str]) -> None:
        """One session per user, once the assignment is there too (the access portal's
        sign-in refuses without it)."""
        for user in members - self.sessions.keys():
            try:
                self.sessions[user] = self.world.aws.issue_session(
                    user, self.world.permission_set_arn, ACCOUNT_PROD, datetime.now(UTC)
                )
            except PermissionError:
                continue

    def check_sessions(self) -> None:
        """Sessions of users near or past their end (as the bench planned it) and not yet
        refused: is each still allowed?"""
        now = datetime.now(UTC)
        for user, session in self.sessions.items():
            p = self.people.get(user)
            if user in self.denied or p is None or p.asked is None:
                continue
            planned = p.asked + timedelta(seconds=p.seconds + (20 if p.kind == "extend" else 0))
            near = p.kind != "deactivate" and now >= planned - timedelta(seconds=2)
            if near and not self.world.aws.is_allowed(session, now=now):
                self.denied[user] = now


def scp_policy(world: World, mechanism: str) -> dict[str, str]:
    """With the SCP mechanism: an organisation and the bridge's own (empty) SCP."""
    if mechanism != "scp":
        return {}
    org = world.aws.client("organizations", max_attempts=3)
    org.create_organization(FeatureSet="ALL")
    policy = org.create_policy(
        Content='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
        Description="pim-bridge session denials",
        Name="pim-bridge-deny",
        Type="SERVICE_CONTROL_POLICY",
    )
    policy_id = policy["Policy"]["PolicySummary"]["Id"]
    world.aws.scp_policy_id = policy_id  # the sandbox's sessions are judged by it too
    return {"scp_policy_id": policy_id}


def add_people(world: World, n: int) -> list[Person]:
    group = world.entra_groups["prod-admin"]

    def one(i: int) -> Person:
        name = f"bench{i:04d}"
        upn = f"{name}@example.com"
        entra = world.graph.add_user(upn, name)
        world.graph.add_eligibility(entra, group)
        return Person(name, entra, world.aws.create_user(upn, name, upn))

    # One at a time: moto's identity store is not safe for concurrent CreateUser (a request can
    # iterate its users while another adds one), which fails the seeding on a loaded machine.
    return [one(i) for i in range(n)]


WATCH_INTERVAL = "2s"
WATCH_TARGET_S = 5.0  # activation -> access and deactivation -> removed, p99, while watching


def run(
    n: int,
    poll: float,
    spread: float,
    mechanism: str = "inline",
    seed: int = 7,
    *,
    watch: bool = False,
) -> dict[str, Any]:
    rng = random.Random(seed)
    logging.getLogger("bridge").setLevel(logging.CRITICAL)
    # A poll outlasting its interval during the activation burst is expected here.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    with running_world(async_delay=ASYNC_DELAY) as world:
        world.export_env()
        people = add_people(world, n)
        world.graph.latency = GRAPH_LATENCY
        world.aws.latency = AWS_LATENCY
        db = RESULTS / "latency.db"
        for stale in RESULTS.glob("latency.db*"):
            stale.unlink()
        data = world.config_dict(
            f"sqlite:///{db}", poll_interval=f"{poll:g}s", drift_interval="10m"
        )
        if watch:
            data["schedule"]["watch_interval"] = WATCH_INTERVAL
            del data["schedule"]["poll_interval"]  # the default while watching: 5 minutes
        data["revocation"] = {"mechanism": mechanism, **scp_policy(world, mechanism)}
        config = config_from_dict(data, {})
        poll = config.schedule.poll_every().total_seconds()
        service = Service(build(config))
        service.start()
        watcher = Watcher(world, {p.ic_id: p for p in people})
        threading.Thread(target=watcher.run, daemon=True).start()
        actor = world.graph.actor()
        group = world.entra_groups["prod-admin"]
        for i, p in enumerate(people):
            p.seconds = 40 + (i * 37) % 60  # ends staggered over a minute
            p.kind = "deactivate" if i % 10 == 3 else "extend" if i % 10 == 7 else "expire"

        def activate(p: Person) -> None:
            p.asked = datetime.now(UTC)
            actor.activate(p.entra_id, group, timedelta(seconds=p.seconds), "bench")

        def follow_up(p: Person) -> None:
            if p.kind == "extend":
                actor.extend(p.entra_id, group, timedelta(seconds=20), "bench: longer")
            else:
                p.ended = datetime.now(UTC)
                actor.deactivate(p.entra_id, group)

        # Activations arrive over `spread` seconds, as people start their day; each one's
        # extension or early deactivation comes 20 s after its activation.
        follow_ups: list[tuple[float, Person]] = []
        t0 = time.monotonic()
        for i, p in enumerate(people):
            time.sleep(max(0.0, t0 + i * spread / n - time.monotonic()))
            activate(p)
            if p.kind != "expire":
                follow_ups.append((time.monotonic() + 20 + rng.uniform(0, 2), p))
            while follow_ups and follow_ups[0][0] <= time.monotonic():
                follow_up(follow_ups.pop(0)[1])
        for due, p in follow_ups:
            time.sleep(max(0.0, due - time.monotonic()))
            follow_up(p)
        last_end = max(p.asked for p in people if p.asked) + timedelta(seconds=100 + 20)
        # Every end is revoked by its expiry job; deactivations wait for the next trigger.
        settle = 15.0 if watch else poll
        while datetime.now(UTC) < last_end + timedelta(seconds=settle + 5):
            time.sleep(1)
        watcher.stop.set()
        service.stop()
        figures = measure(world, db, people, poll, spread, watcher)
        figures["denial_mechanism"] = mechanism
        figures["watch_interval"] = WATCH_INTERVAL if watch else "0"
        figures["membership_delay_s"] = [world.graph.delta.delay.low, world.graph.delta.delay.high]
        figures["graph_requests"] = world.graph.requests_served
        figures["aws_calls"] = sum(world.aws.calls.values())
        return figures


def measure(
    world: World, db: Path, people: list[Person], poll: float, spread: float, watch: Watcher
) -> dict[str, Any]:
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{db}")
    by_ic = {p.ic_id: p for p in people}
    assignment_key = f"assignment:{ACCOUNT_PROD}:{world.permission_set_arn}"
    with engine.connect() as conn:
        ends = {
            r.ic_user_id: r.not_after
            for r in conn.execute(select(grants.c.ic_user_id, grants.c.not_after))
        }
        removed = {
            r.ic_user_id: r.outcome_at
            for r in conn.execute(
                select(changes.c.ic_user_id, changes.c.outcome_at).where(
                    changes.c.op == "remove",
                    changes.c.status == "ok",
                    changes.c.target_key == assignment_key,
                )
            )
        }
        # Every provisioned denial per user, (bound, done): the one covering a grant's end is
        # the first provisioned with a bound at or past it; armed ahead, it was done before it.
        provisioned: dict[str, list[tuple[datetime, datetime]]] = {}
        for r in conn.execute(
            select(denials.c.ic_user_id, denials.c.at, denials.c.done_at)
            .where(denials.c.status == "provisioned")
            .order_by(denials.c.done_at)
        ):
            provisioned.setdefault(r.ic_user_id, []).append((r.at, r.done_at))

    def utc(d: datetime | None) -> datetime | None:
        return d if d is None or d.tzinfo else d.replace(tzinfo=UTC)

    access, member_gone, assign_gone, denial_done, deact = [], [], [], [], []
    session_denied = []
    native_access, native_window = [], []
    rng = random.Random(1)
    for ic_id, p in by_ic.items():
        seen = watch.seen.get(ic_id)
        if p.asked and seen:
            access.append((seen - p.asked).total_seconds())
        end = p.ended if p.kind == "deactivate" else utc(ends.get(ic_id))
        gone = watch.gone.get(ic_id)
        if end and gone:
            (deact if p.kind == "deactivate" else member_gone).append((gone - end).total_seconds())
        if end and p.kind != "deactivate":
            if (r := utc(removed.get(ic_id))) is not None:
                assign_gone.append((r - end).total_seconds())
            covering = [
                done
                for at, done in provisioned.get(ic_id, [])
                if utc(at) >= end  # type: ignore[operator]
            ]
            if covering:
                denial_done.append((utc(covering[0]) - end).total_seconds())  # type: ignore[operator]
            if (refused := watch.denied.get(ic_id)) is not None:
                session_denied.append((refused - end).total_seconds())
        # The native path for the same grant: export at a uniformly random point of its cycle.
        native_access.append(rng.uniform(120, 600))
        native_window.append(rng.uniform(0, SCIM_CYCLE) + SESSION_DURATION)
    return {
        "grants": len(people),
        "poll_interval_s": poll,
        "activations_spread_s": spread,
        "injected_latency_ms": {"graph": GRAPH_LATENCY * 1000, "aws": AWS_LATENCY * 1000},
        "async_delay_s": ASYNC_DELAY,
        "bridge": {
            "activation_to_access_s": summary(access),
            "deactivation_to_removed_s": summary(deact),
            "end_to_membership_gone_s": summary(member_gone),
            "end_to_assignment_deleted_s": summary(assign_gone),
            "end_to_denial_provisioned_s": summary(denial_done),
            "end_to_stale_session_refused_s": summary(session_denied),
        },
        "native_scim": {
            "activation_to_access_s": summary(native_access),
            "post_expiry_window_s": summary(native_window),
        },
    }


def table(f: dict[str, Any]) -> str:
    b, n = f["bridge"], f["native_scim"]
    rows = [
        ("activation -> access", b["activation_to_access_s"], n["activation_to_access_s"]),
        ("deactivation -> removed", b["deactivation_to_removed_s"], None),
        ("end -> membership gone", b["end_to_membership_gone_s"], None),
        ("end -> assignment deleted", b["end_to_assignment_deleted_s"], None),
        ("end -> denial provisioned", b["end_to_denial_provisioned_s"], None),
        (
            "end -> older session refused",
            b["end_to_stale_session_refused_s"],
            n["post_expiry_window_s"],
        ),
    ]
    out = [
        f"latency: {f['grants']} grants, poll {f['poll_interval_s']:g}s, Graph "
        f"{f['injected_latency_ms']['graph']:.0f} ms/call, "
        f"AWS {f['injected_latency_ms']['aws']:.0f} ms/call, async {f['async_delay_s']:g}s, "
        f"activations over {f['activations_spread_s']:g}s, denials: {f['denial_mechanism']}",
        f"{'measure (seconds)':32} {'n':>4} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}"
        f"   {'native SCIM p99':>15} {'ratio':>7}",
    ]
    for name, m, native in rows:
        line = (
            f"{name:32} {m['n']:>4} {m['p50']:>7.2f} {m['p95']:>7.2f} {m['p99']:>7.2f} "
            f"{m['max']:>7.2f}"
        )
        if native:
            ratio = native["p99"] / m["p99"] if m["p99"] > 0 else float("inf")
            line += f"   {native['p99']:>15.0f} {ratio:>6.0f}x"
        out.append(line)
    return "\n".join(out)


def side_by_side(poll: dict[str, Any], watch: dict[str, Any]) -> str:
    """The two triggers' figures for the same story, p99 in seconds."""
    low, high = watch["membership_delay_s"]
    out = [
        f"watch vs poll: {poll['grants']} grants, Graph {poll['injected_latency_ms']['graph']:.0f}"
        f" ms/call, AWS {poll['injected_latency_ms']['aws']:.0f} ms/call, async "
        f"{poll['async_delay_s']:g}s, membership delay {low:g}-{high:g}s",
        f"{'measure (p99, seconds)':32} {'poll ' + format(poll['poll_interval_s'], 'g') + 's':>10}"
        f" {'watch ' + watch['watch_interval']:>10} {'target':>8}",
    ]
    for name, key in (
        ("activation -> access", "activation_to_access_s"),
        ("deactivation -> removed", "deactivation_to_removed_s"),
        ("end -> membership gone", "end_to_membership_gone_s"),
        ("end -> older session refused", "end_to_stale_session_refused_s"),
    ):
        target = f"<= {WATCH_TARGET_S:g}" if key.startswith(("activation", "deactivation")) else ""
        out.append(
            f"{name:32} {poll['bridge'][key]['p99']:>10.2f} {watch['bridge'][key]['p99']:>10.2f}"
            f" {target:>8}"
        )
    out.append(
        f"{'Graph HTTP calls in the run':32} {poll['graph_requests']:>10} "
        f"{watch['graph_requests']:>10}"
    )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grants", type=int, default=200)
    parser.add_argument("--poll", type=float, default=15.0)
    parser.add_argument("--spread", type=float, default=240.0, help="activations arrive over this")
    parser.add_argument("--mechanism", choices=["inline", "scp"], default="inline")
    parser.add_argument(
        "--modes", default="poll,watch", help="poll, watch or both: the triggers to measure"
    )
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    RESULTS.mkdir(parents=True, exist_ok=True)
    runs = {
        mode: run(args.grants, args.poll, args.spread, args.mechanism, watch=mode == "watch")
        for mode in modes
    }
    # The poll-only run keeps the file's shape (the diagrams read it); the watch run sits beside.
    figures = dict(runs.get("poll") or runs["watch"])
    if "poll" in runs and "watch" in runs:
        figures["watch"] = runs["watch"]
    figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    name = "latency.json" if args.mechanism == "inline" else f"latency-{args.mechanism}.json"
    (RESULTS / name).write_text(json.dumps(figures, indent=2) + "\n")
    for mode, measured in runs.items():
        print(f"[{mode}]")
        print(table(measured))
    if "poll" in runs and "watch" in runs:
        print(side_by_side(runs["poll"], runs["watch"]))
    print(f"written: {RESULTS / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
