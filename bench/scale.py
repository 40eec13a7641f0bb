"""Scale benchmark: one bridge against a large sandbox tenant, with per-call latency injected and
Identity Center's 20 calls/s enforced by the AWS sandbox, as AWS does.

    python -m bench.scale [--groups 2000] [--users 20000] [--accounts 500] [--burst 1000]

The tenant: `--groups` PIM groups, each mapped to its own Identity Center group and to one
permission set on one of `--accounts` accounts; `--users` users, each with a live activation in
one group, already mirrored (memberships, assignments and the ledger are seeded as a running
bridge would have left them). Seeding writes straight into the sandboxes' in-process stores and
the ledger: 20,000 users through HTTP at 20 calls/s would take hours.

Measured, in real time:
- the first poll after start (the Graph source reads every group's requests once) and then a
  no-change poll: Graph HTTP calls (counted by the Graph sandbox), Identity Center calls and
  writes (counted by the AWS sandbox), wall time, and memory: the process's peak RSS
  (`resource.getrusage`, both sandboxes included, as they run in this process) and the peak of
  Python allocations during one more no-change poll (`tracemalloc`, sandboxes included);
- a burst of `--burst` new activations picked up by one poll: changes/s and Identity Center
  calls/s against the 20 calls/s ceiling;
- a burst of `--burst` grants ending at the same second, revoked by the expiry job: the window
  from each grant's end to its removal's outcome in the ledger;
- the membership watcher: its first look (every group's delta round, then every group read once,
  as at a first start) and a look where nothing changed: Graph HTTP calls and delta queries,
  Identity Center calls, and the CPU time of the bridge's own threads (the calling thread and
  the Graph session's event loop, read from /proc, so the sandboxes serving in this process are
  not counted).

Session denial is off here (it adds a policy write and provisioning per permission set and
account ahead of the ends, and is measured by bench.latency and, for a burst of 1,000 ends, by
bench.denial); figures go to bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import threading
import time
import tracemalloc
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from moto.identitystore.models import (
    Group,
    IdentityStoreData,
    Name,
    User,
    identitystore_backends,
)
from moto.ssoadmin.models import AccountAssignment as MotoAssignment
from moto.ssoadmin.models import ssoadmin_backends
from sqlalchemy import create_engine, insert, select

from bridge.config import Config, config_from_dict
from bridge.reconcile import CycleResult
from bridge.sandbox.aws.sandbox import AwsSandbox
from bridge.sandbox.graph.sandbox import GraphSandbox
from bridge.sandbox.graph.tenant import DirectoryObject, Instance, ScheduleRequest
from bridge.schema import changes, grants, holdings
from bridge.watch import QUERY_SIZE
from bridge.watching import Watching
from bridge.wiring import Bridge, build

RESULTS = Path(__file__).parent / "results"
GRAPH_LATENCY = 0.080
AWS_LATENCY = 0.060
ASYNC_DELAY = 0.5
CEILING = 20.0  # Identity Center admin API calls per second
PERMISSION_SETS = 4
# Calls that change Identity Center state; a no-change poll must make none.
WRITES = frozenset(
    {
        "CreateGroupMembership",
        "DeleteGroupMembership",
        "CreateAccountAssignment",
        "DeleteAccountAssignment",
        "PutInlinePolicyToPermissionSet",
        "DeleteInlinePolicyFromPermissionSet",
        "ProvisionPermissionSet",
    }
)
TARGETS = {
    "no_change_graph_calls": 110,
    "no_change_ic_writes": 0,
    "no_change_wall_s": 10.0,
    "peak_rss_mb": 300.0,
    "activation_ceiling_share": 0.90,
    "watch_no_change_queries": 40,
    "watch_no_change_cpu_s": 0.3,
    "watch_no_change_ic_calls": 0,
}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))]


def rss_mb() -> float:
    """Resident set size now (Linux /proc), or the peak where /proc is missing."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return peak_rss_mb()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@dataclass
class Tenant:
    """What was seeded, by position: user j is active in group j % groups."""

    groups: list[str] = field(default_factory=list)  # Entra group ids
    ic_groups: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    permission_sets: list[str] = field(default_factory=list)
    entra_users: list[str] = field(default_factory=list)
    ic_users: list[str] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)  # the live grants' instances

    def upn(self, j: int) -> str:
        return f"u{j:05d}@scale.example.com"

    def assignment(self, i: int) -> tuple[str, str]:
        """Mapping i's account and permission set: a distinct pair per mapping."""
        n = len(self.accounts)
        return self.accounts[i % n], self.permission_sets[(i // n) % len(self.permission_sets)]


def seed(
    graph: GraphSandbox, aws: AwsSandbox, groups: int, users: int, accounts: int, spare: int
) -> Tenant:
    """Entra, Identity Center and PIM state for `users` live grants, plus `spare` eligible users
    with no activation yet (the activation burst)."""
    t = Tenant()
    t.accounts = [f"{100000000000 + n:012d}" for n in range(accounts)]
    t.permission_sets = [
        aws.create_permission_set(f"Scale-{n}", "PT1H") for n in range(PERMISSION_SETS)
    ]
    tenant = graph.tenant
    store = identitystore_backends[aws.account_id][aws.region]
    # moto creates a store's data on first use, as here.
    ids = store.identity_stores.setdefault(aws.identity_store_id, IdentityStoreData())
    sso = ssoadmin_backends[aws.account_id][aws.region]
    for i in range(groups):
        gid = str(uuid.uuid4())
        tenant.objects[gid] = DirectoryObject(gid, "group", f"PIM-scale-{i:04d}")
        t.groups.append(gid)
        ic = str(uuid.uuid4())
        ids.groups[ic] = Group(ic, f"AWS-scale-{i:04d}", [], "pim-bridge scale", ids_id(aws))
        t.ic_groups.append(ic)
    now = datetime.now(UTC)
    for j in range(users + spare):
        upn = t.upn(j)
        eid = str(uuid.uuid4())
        tenant.objects[eid] = DirectoryObject(eid, "user", f"User {j}", upn, upn)
        uid = str(uuid.uuid4())
        ids.users[uid] = User(
            uid,
            ids_id(aws),
            upn,
            Name(None, "User", str(j), None, None, None),
            f"User {j}",
            "",
            "",
            [{"Value": upn, "Type": "work", "Primary": True}],
            [],
            [],
            "",
            "",
            "",
            "",
            "",
        )
        t.entra_users.append(eid)
        t.ic_users.append(uid)
        tenant.eligibilities.add((eid, t.groups[j % groups], "member"))
        if j >= users:
            continue
        t.instances.append(activate(graph, t, j, now - timedelta(minutes=30), timedelta(hours=8)))
        i = j % groups
        mid = str(uuid.uuid4())
        ids.group_memberships[mid] = {
            "IdentityStoreId": ids_id(aws),
            "MembershipId": mid,
            "GroupId": t.ic_groups[i],
            "MemberId": {"UserId": uid},
        }
        account, ps = t.assignment(i)
        sso.account_assignments.append(
            MotoAssignment(aws.instance_arn, account, "AWS_ACCOUNT", ps, "USER", uid)
        )
    return t


def ids_id(aws: AwsSandbox) -> str:
    return aws.identity_store_id


def activate(
    graph: GraphSandbox, t: Tenant, j: int, start: datetime, length: timedelta
) -> Instance:
    """User j activates their group, as PIM records it: the request and its instance."""
    gid = t.groups[j % len(t.groups)]
    rid = str(uuid.uuid4())
    schedule = f"{gid}_member_{rid}"
    graph.tenant.requests.append(
        ScheduleRequest(
            id=rid,
            action="selfActivate",
            group_id=gid,
            principal_id=t.entra_users[j],
            access_id="member",
            created=start,
            created_by=t.entra_users[j],
            justification=f"scale work {j}",
            ticket_number=f"CHG-{j}",
            ticket_system="bench",
            schedule_info={"startDateTime": start.isoformat()},
            target_schedule_id=schedule,
        )
    )
    inst = Instance(
        id=f"{gid}_member_{uuid.uuid4()}",
        schedule_id=schedule,
        group_id=gid,
        principal_id=t.entra_users[j],
        access_id="member",
        assignment_type="activated",
        member_type="direct",
        start=start,
        end=start + length,
    )
    graph.tenant.instances.append(inst)
    return inst


def config_for(graph: GraphSandbox, aws: AwsSandbox, t: Tenant, store_url: str) -> Config:
    mappings = []
    for i, gid in enumerate(t.groups):
        account, ps = t.assignment(i)
        mappings.append(
            {
                "name": f"scale-{i:04d}",
                "entra_group_id": gid,
                "identity_center_group": t.ic_groups[i],
                "assignments": [{"account_id": account, "permission_set": ps}],
            }
        )
    data = {
        "entra": {"credential": "static", "graph_url": graph.url},
        "aws": {
            "region": aws.region,
            "identity_store_id": aws.identity_store_id,
            "instance_arn": aws.instance_arn,
            "endpoint_url": aws.endpoint_url,
        },
        "schedule": {"poll_interval": "15s", "drift_interval": "10m"},
        "store": {"url": store_url},
        "revocation": {"deny_stale_sessions": False},
        "mappings": mappings,
    }
    return config_from_dict(data, {})


def seed_ledger(bridge: Bridge, t: Tenant, users: int) -> None:
    """The ledger as a bridge that mirrored every live grant would have left it."""
    targets = bridge.reconciler.targets()
    now = datetime.now(UTC)
    g_rows: list[dict[str, Any]] = []
    h_rows: list[dict[str, Any]] = []
    for j in range(users):
        i = j % len(t.groups)
        inst = t.instances[j]
        for target in targets[f"scale-{i:04d}"]:
            g_rows.append(
                {
                    "mapping": f"scale-{i:04d}",
                    "source_instance_id": inst.id,
                    "target_key": target.key,
                    "principal_id": inst.principal_id,
                    "user_name": t.upn(j),
                    "ic_user_id": t.ic_users[j],
                    "not_before": inst.start,
                    "not_after": inst.end,
                    "justification": f"scale work {j}",
                    "ticket": f"CHG-{j}",
                    "approver": None,
                    "first_seen": now,
                    "last_seen": now,
                    "extended_count": 0,
                    "state": "live",
                }
            )
            h_rows.append(
                {
                    "ic_user_id": t.ic_users[j],
                    "target_key": target.key,
                    "user_name": t.upn(j),
                    "since": now,
                    "state": "held",
                }
            )
    with bridge.ledger.engine.begin() as conn:
        conn.execute(insert(grants), g_rows)
        conn.execute(insert(holdings), h_rows)


@dataclass
class Meter:
    """Counts of both sandboxes between `start` and `stop`."""

    graph: GraphSandbox
    aws: AwsSandbox
    graph0: int = 0
    aws0: Counter[str] = field(default_factory=Counter)
    throttled0: int = 0
    t0: float = 0.0

    def start(self) -> None:
        self.graph0 = self.graph.requests_served
        self.aws0 = Counter(self.aws.calls)
        self.throttled0 = self.aws.throttled
        self.t0 = time.perf_counter()

    def stop(self) -> dict[str, Any]:
        wall = time.perf_counter() - self.t0
        calls = Counter(self.aws.calls)
        calls.subtract(self.aws0)
        ops = {k: v for k, v in sorted(calls.items()) if v}
        throttled = self.aws.throttled - self.throttled0
        total = sum(ops.values())
        return {
            "wall_s": round(wall, 3),
            "graph_calls": self.graph.requests_served - self.graph0,
            "ic_calls": total,
            "ic_calls_admitted": total - throttled,
            "ic_throttled": throttled,
            "ic_writes": sum(v for k, v in ops.items() if k in WRITES),
            "ic_calls_by_operation": ops,
        }


def poll(bridge: Bridge, meter: Meter) -> dict[str, Any]:
    meter.start()
    result = bridge.reconciler.cycle()
    out = meter.stop()
    out.update(
        adds=len(result.plan.adds),
        removes=len(result.plan.removes),
        applied=len(result.applied),
        failed=len(result.failed),
        status=result.status,
    )
    return out


def thread_cpu_s(names: frozenset[str] = frozenset({"graph"})) -> float:
    """CPU seconds of the calling thread and the threads named (the Graph session's event loop),
    from /proc: the sandboxes' threads in this process are left out."""
    tids = {threading.get_native_id()} | {
        t.native_id for t in threading.enumerate() if t.name in names and t.native_id
    }
    ticks = 0
    for tid in tids:
        fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime and stime (stat fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class _Host:
    """The service as the watch jobs see it, without a scheduler running."""

    scheduler: BackgroundScheduler = field(default_factory=BackgroundScheduler)
    is_leader: bool = True
    last_ok: datetime | None = None

    def settle(self, result: CycleResult) -> CycleResult:
        return result


def watch_looks(bridge: Bridge, meter: Meter) -> dict[str, Any]:
    """The watcher's first look after a start, then one where nothing changed."""
    watching = Watching(bridge, _Host())
    out: dict[str, Any] = {"queries": -(-len(bridge.config.mappings) // QUERY_SIZE)}
    for name in ("first_look", "no_change_look"):
        meter.start()
        cpu = thread_cpu_s()
        result = watching.watch()
        look = meter.stop()
        look["bridge_cpu_s"] = round(thread_cpu_s() - cpu, 3)
        look["read_mappings"] = 0 if result is None else len(result.read)
        out[name] = look
    return out


def activation_burst(
    bridge: Bridge, graph: GraphSandbox, meter: Meter, t: Tenant, users: int, n: int
) -> dict[str, Any]:
    now = datetime.now(UTC)
    for j in range(users, users + n):
        activate(graph, t, j, now, timedelta(hours=8))
    out = poll(bridge, meter)
    admitted = out["ic_calls_admitted"]
    out["changes_per_s"] = round(out["applied"] / out["wall_s"], 2)
    out["ic_calls_per_s"] = round(admitted / out["wall_s"], 2)
    out["ceiling_share"] = round(out["ic_calls_per_s"] / CEILING, 3)
    out["ic_calls_per_change"] = round(admitted / max(1, out["applied"]), 2)
    return out


def expiry_burst(
    bridge: Bridge, graph: GraphSandbox, meter: Meter, t: Tenant, n: int, lead: float
) -> dict[str, Any]:
    """`n` live grants are cut to end at one second (an admin shortens them in PIM); a poll
    records the new ends, and at that second the expiry job runs, as the service's date job."""
    end = (datetime.now(UTC) + timedelta(seconds=lead)).replace(microsecond=0)
    chosen = {inst.id for inst in t.instances[:n]}
    tenant = graph.tenant
    with tenant.lock:
        for k, inst in enumerate(tenant.instances):
            if inst.id in chosen:
                tenant.instances[k] = Instance(**{**inst.__dict__, "end": end})
    recorded = poll(bridge, meter)
    wait = (end - datetime.now(UTC)).total_seconds()
    if wait < 0:
        raise SystemExit(f"the poll recording the ends outlasted the {lead:g}s lead: raise --lead")
    time.sleep(wait)
    meter.start()
    result = bridge.reconciler.expire()
    out = meter.stop()
    engine = create_engine(bridge.config.store.url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(changes.c.outcome_at).where(
                changes.c.op == "remove",
                changes.c.reason == "expired",
                changes.c.status == "ok",
                changes.c.intent_at >= end.replace(tzinfo=None),
            )
        ).all()
    engine.dispose()
    # SQLite hands datetimes back naive; the ledger stores UTC.
    windows = [(r.outcome_at.replace(tzinfo=UTC) - end).total_seconds() for r in rows]
    admitted = out["ic_calls_admitted"]
    out.update(
        removals=len(result.plan.removes),
        applied=len(result.applied),
        failed=len(result.failed),
        ic_calls_per_s=round(admitted / out["wall_s"], 2),
        ic_calls_per_change=round(admitted / max(1, len(result.applied)), 2),
        # What the ceiling allows: the last removal cannot finish before every call it needs.
        floor_s=round(admitted / CEILING, 1),
        window_s={
            "n": len(windows),
            "p50": round(pct(windows, 50), 2),
            "p99": round(pct(windows, 99), 2),
            "max": round(max(windows), 2) if windows else None,
        },
        recording_poll=recorded,
    )
    return out


def run(groups: int, users: int, accounts: int, burst: int, lead: float) -> dict[str, Any]:
    logging.getLogger("bridge").setLevel(logging.CRITICAL)
    db = RESULTS / "scale.db"
    for stale in RESULTS.glob("scale.db*"):
        stale.unlink()
    with GraphSandbox() as graph, AwsSandbox(async_delay=ASYNC_DELAY) as aws:
        os.environ.update(aws.credentials_env())
        os.environ.update(
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            PIM_BRIDGE_GRAPH_TOKEN=graph.token,
        )
        started = time.perf_counter()
        t = seed(graph, aws, groups, users, accounts, burst)
        config = config_for(graph, aws, t, f"sqlite:///{db}")
        bridge = build(config)
        # Names resolve once at start (one DescribeGroup per mapped group); outside the
        # measured cycles and before latency and the rate limit are switched on.
        seed_ledger(bridge, t, users)
        seeded_s = time.perf_counter() - started
        # What the sandboxes and the seeded stores take before the bridge polls at all.
        seeded_rss = rss_mb()
        graph.latency, aws.latency = GRAPH_LATENCY, AWS_LATENCY
        aws.set_rate_limit(CEILING)
        meter = Meter(graph, aws)
        figures: dict[str, Any] = {
            "groups": groups,
            "users_with_live_grants": users,
            "accounts": len(t.accounts),
            "grants": users * 2,
            "burst": burst,
            "injected_latency_ms": {"graph": GRAPH_LATENCY * 1000, "aws": AWS_LATENCY * 1000},
            "async_delay_s": ASYNC_DELAY,
            "ic_rate_limit_per_s": CEILING,
            "seed_s": round(seeded_s, 1),
            "rss_after_seed_mb": round(seeded_rss, 1),
        }
        try:
            figures["first_poll"] = poll(bridge, meter)
            figures["no_change_poll"] = poll(bridge, meter)
            figures["no_change_poll"]["rss_mb"] = round(rss_mb(), 1)
            figures["no_change_poll"]["peak_rss_mb"] = round(peak_rss_mb(), 1)
            tracemalloc.start()
            traced = poll(bridge, meter)
            figures["no_change_poll"]["traced_peak_mb"] = round(
                tracemalloc.get_traced_memory()[1] / 2**20, 1
            )
            tracemalloc.stop()
            figures["no_change_poll"]["traced_wall_s"] = traced["wall_s"]
            figures["watch"] = watch_looks(bridge, meter)
            figures["activations"] = activation_burst(bridge, graph, meter, t, users, burst)
            figures["expiries"] = expiry_burst(bridge, graph, meter, t, burst, lead)
        finally:
            bridge.close()
    # After tracemalloc's own bookkeeping and both bursts: not the figure the target is about.
    figures["peak_rss_mb_end"] = round(peak_rss_mb(), 1)
    figures["targets"] = verdicts(figures)
    return figures


def verdicts(f: dict[str, Any]) -> dict[str, dict[str, Any]]:
    nc, act, quiet = f["no_change_poll"], f["activations"], f["watch"]["no_change_look"]
    pairs = {
        "watch_no_change_queries": (f["watch"]["queries"], "<="),
        "watch_no_change_cpu_s": (quiet["bridge_cpu_s"], "<="),
        "watch_no_change_ic_calls": (quiet["ic_calls"], "<="),
        "no_change_graph_calls": (nc["graph_calls"], "<="),
        "no_change_ic_writes": (nc["ic_writes"], "<="),
        "no_change_wall_s": (nc["wall_s"], "<="),
        "peak_rss_mb": (nc["peak_rss_mb"], "<="),
        "activation_ceiling_share": (act["ceiling_share"], ">="),
    }
    out = {}
    for name, (value, op) in pairs.items():
        target = TARGETS[name]
        met = value <= target if op == "<=" else value >= target
        out[name] = {"value": value, "target": f"{op} {target:g}", "met": met}
    return out


def table(f: dict[str, Any]) -> str:
    first, nc, act, exp = f["first_poll"], f["no_change_poll"], f["activations"], f["expiries"]
    look, quiet = f["watch"]["first_look"], f["watch"]["no_change_look"]
    w, n = exp["window_s"], f["burst"]
    rows = [
        ("no-change poll: Graph HTTP calls", str(nc["graph_calls"]), "<= 110"),
        ("no-change poll: IC calls (writes)", f"{nc['ic_calls']} ({nc['ic_writes']})", "0 writes"),
        ("no-change poll: wall time", f"{nc['wall_s']:.2f} s", "<= 10 s"),
        (
            "no-change poll: peak RSS, process (getrusage)",
            f"{nc['peak_rss_mb']:.0f} MB",
            "<= 300 MB",
        ),
        ("  of which sandboxes and seeded tenant", f"{f['rss_after_seed_mb']:.0f} MB", ""),
        ("no-change poll: Python peak (tracemalloc)", f"{nc['traced_peak_mb']:.0f} MB", ""),
        ("first poll after start: Graph calls", str(first["graph_calls"]), ""),
        ("first poll after start: wall time", f"{first['wall_s']:.2f} s", ""),
        (
            "no-change watch: delta queries (HTTP calls)",
            f"{f['watch']['queries']} ({quiet['graph_calls']})",
            "<= 40 queries",
        ),
        ("no-change watch: bridge CPU", f"{quiet['bridge_cpu_s']:.2f} s", "<= 0.3 s"),
        ("no-change watch: IC calls", str(quiet["ic_calls"]), "0"),
        ("no-change watch: wall time", f"{quiet['wall_s']:.2f} s", ""),
        ("first watch look: Graph HTTP calls", str(look["graph_calls"]), ""),
        ("first watch look: wall time", f"{look['wall_s']:.2f} s", ""),
        (f"{n} activations: wall time", f"{act['wall_s']:.1f} s", ""),
        (f"{n} activations: changes/s", f"{act['changes_per_s']:.1f}", ""),
        (
            f"{n} activations: IC calls/s (of 20)",
            f"{act['ic_calls_per_s']:.1f} ({act['ceiling_share']:.0%})",
            ">= 90 %",
        ),
        (f"{n} activations: IC calls per change", f"{act['ic_calls_per_change']:.2f}", ""),
        (f"{n} expiries: end -> removed p50", f"{w['p50']:.1f} s", ""),
        (f"{n} expiries: end -> removed p99", f"{w['p99']:.1f} s", "as low as 20/s allows"),
        (f"{n} expiries: end -> removed max", f"{w['max']:.1f} s", f"floor {exp['floor_s']} s"),
        (f"{n} expiries: IC calls/s (of 20)", f"{exp['ic_calls_per_s']:.1f}", ""),
    ]
    head = (
        f"scale: {f['groups']} groups, {f['users_with_live_grants']} users with live grants "
        f"({f['grants']} grants), {f['accounts']} accounts; Graph "
        f"{f['injected_latency_ms']['graph']:.0f} ms/call, AWS "
        f"{f['injected_latency_ms']['aws']:.0f} ms/call, async {f['async_delay_s']:g} s, "
        f"Identity Center limited to {f['ic_rate_limit_per_s']:g} calls/s"
    )
    lines = [head, f"| {'measure':45} | {'value':>12} | {'target':21} |"]
    lines.append(f"|{'-' * 47}|{'-' * 13}:|{'-' * 23}|")
    lines += [f"| {a:45} | {b:>12} | {c:21} |" for a, b, c in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument(
        "--lead", type=float, default=60.0, help="seconds from cutting the ends to the expiry"
    )
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    figures = run(args.groups, args.users, args.accounts, args.burst, args.lead)
    figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    (RESULTS / "scale.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(table(figures))
    print(f"written: {RESULTS / 'scale.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
