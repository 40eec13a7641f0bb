"""Scale benchmark: one bridge against a large sandbox tenant, with per-call latency injected and
Identity Center's 20 calls/s enforced by the AWS sandbox, as AWS does.

    python -m bench.scale [--groups 2000] [--users 20000] [--accounts 500] [--burst 1000]
                          [--watch-burst 100]

The tenant (bench/scale_tenant.py): `--groups` PIM groups, each mapped to its own Identity
Center group and to one permission set on one of `--accounts` accounts; `--users` users, each
with a live activation in one group, already mirrored (memberships, assignments and the ledger
are seeded as a running bridge would have left them).

The bridge runs in a process of its own (bench/scale_process.py, started with `spawn`), the
sandboxes and the seeded tenant in this one: the bridge's peak RSS (`getrusage` in its process)
and CPU seconds (every thread of its process) are its own, and the sandboxes' counts of calls
are taken here around each command it is given.

Measured, in real time:
- the first poll after start and then a no-change poll (the safety-net poll while watching):
  Graph HTTP calls (counted by the Graph sandbox), Identity Center calls and writes (counted by
  the AWS sandbox), wall time, the bridge's CPU, and the peak of Python allocations during one
  more no-change poll after the watcher's looks (`tracemalloc`, in the bridge's process, once
  its peak RSS is taken: tracemalloc's own records would set it);
- the membership watcher: its first look with no link kept (every group's initial round, then
  every group read), a look where nothing changed, and a cycle where one group changed (one
  activation): Graph calls, Identity Center calls, the bridge's CPU, and the rows it read
  through the ledger's scanning reads (holdings, live grants, live principals, last ends,
  blocked users);
- a burst of `--watch-burst` activations in as many groups, picked up by the watcher looking
  every 2 s with Entra's 1-3 s membership delay: activation -> access (the user's last addition
  made) p50/p99, against the floor the 20 calls/s ceiling sets;
- a burst of `--burst` new activations picked up by one poll: changes/s and Identity Center
  calls/s against the ceiling; and `--burst` grants ending at one second, revoked by the expiry
  job: the window from each grant's end to its removal's outcome in the ledger (0: skipped).

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
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Listener
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select

from bench.scale_process import KEY_ENV
from bench.scale_tenant import Tenant, activate, config_for, ledger_seed, seed
from bridge.sandbox.aws.sandbox import AwsSandbox
from bridge.sandbox.graph.membership import MembershipDelay
from bridge.sandbox.graph.sandbox import GraphSandbox
from bridge.sandbox.graph.tenant import Instance
from bridge.schema import changes

RESULTS = Path(__file__).parent / "results"
GRAPH_LATENCY = 0.080
AWS_LATENCY = 0.060
ASYNC_DELAY = 0.5
CEILING = 20.0  # Identity Center admin API calls per second
HOURS_8 = timedelta(hours=8)
SEED_CHUNK = 1000  # live grants seeded into the ledger per command
RSS_HOW = (
    "peak RSS of the bridge's own process (getrusage ru_maxrss there), the sandboxes and the "
    "seeded tenant running in the parent process"
)
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
    "watch_no_change_graph_calls": 40,
    "watch_no_change_cpu_s": 0.3,
    "watch_no_change_ic_calls": 0,
    "no_change_graph_calls": 110,
    "no_change_ic_writes": 0,
    "no_change_wall_s": 5.0,
    "bridge_peak_rss_mb": 150.0,
    "watch_burst_access_p99_s": 5.0,
    "activation_ceiling_share": 0.90,
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


class BridgeProcess:
    """The bridge in a process of its own (bench/scale_process.py), driven one command at a
    time; its answers carry its own CPU seconds and ledger reads, merged here with the
    sandboxes' counts around the command."""

    def __init__(self, config: dict[str, Any], meter: Meter) -> None:
        key = secrets.token_bytes(16)
        with Listener(("127.0.0.1", 0), authkey=key) as listener:
            host, port = listener.address
            # The environment (the sandboxes' credentials and Graph token) is the child's too.
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "bench.scale_process", f"{host}:{port}"],
                env={**os.environ, KEY_ENV: key.hex()},
            )
            self._conn = listener.accept()
        self._conn.send(config)
        self.meter = meter

    def call(self, name: str, *args: Any) -> dict[str, Any]:
        self._conn.send((name, args))
        out: dict[str, Any] = self._conn.recv()
        return out

    def measured(self, name: str, *args: Any) -> dict[str, Any]:
        self.meter.start()
        out = self.call(name, *args)
        return {**self.meter.stop(), **out}

    def close(self) -> dict[str, Any]:
        """Its peak RSS over the whole run, as it exits."""
        self._conn.send(("close", ()))
        out: dict[str, Any] = self._conn.recv()
        self._conn.close()
        self._proc.wait(30)
        return out


def watch_looks(proc: BridgeProcess, change: Callable[[], None]) -> dict[str, Any]:
    """The watcher's first look with no link kept (every group's initial round, every group
    read: a first start without the startup poll's priming), a look where nothing changed,
    and one where a single group changed (`change()` activates one user there)."""
    out: dict[str, Any] = {}
    for name in ("first_look", "no_change_look", "one_change_cycle"):
        if name == "one_change_cycle":
            change()
        out[name] = proc.measured("watch")
    return out


def watch_burst(
    proc: BridgeProcess, graph: GraphSandbox, t: Tenant, first: int, n: int, url: str
) -> dict[str, Any]:
    """`n` users activate at once, in `n` groups, with Entra's own 1-3 s delay before the
    groups' members change; the watcher looks every 2 s (its default) until every addition is
    made. Activation -> access: from the activation to the outcome of the user's last addition
    (their group membership and their account assignment both made)."""
    graph.delta.delay = MembershipDelay()
    start = datetime.now(UTC)
    for j in range(first, first + n):
        activate(graph, t, j, start, timedelta(hours=8))
    out = proc.measured("watch_until", 2 * n, 2.0, 600.0)
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(changes.c.user_name, changes.c.outcome_at).where(
                changes.c.op == "add",
                changes.c.status == "ok",
                changes.c.intent_at >= start.replace(tzinfo=None),
            )
        ).all()
    engine.dispose()
    done: dict[str, datetime] = {}
    for r in rows:
        at = r.outcome_at.replace(tzinfo=UTC)  # SQLite hands datetimes back naive
        done[r.user_name] = max(done.get(r.user_name, at), at)
    access = [(at - start).total_seconds() for at in done.values()]
    out["access_s"] = {
        "n": len(access),
        "p50": round(pct(access, 50), 2),
        "p99": round(pct(access, 99), 2),
        "max": round(max(access), 2) if access else None,
    }
    out["floor_s"] = round(out["ic_calls_admitted"] / CEILING, 1)
    return out


def activation_burst(
    proc: BridgeProcess, graph: GraphSandbox, t: Tenant, first: int, n: int
) -> dict[str, Any]:
    now = datetime.now(UTC)
    for j in range(first, first + n):
        activate(graph, t, j, now, timedelta(hours=8))
    out = proc.measured("poll")
    admitted = out["ic_calls_admitted"]
    out["changes_per_s"] = round(out["applied"] / out["wall_s"], 2)
    out["ic_calls_per_s"] = round(admitted / out["wall_s"], 2)
    out["ceiling_share"] = round(out["ic_calls_per_s"] / CEILING, 3)
    out["ic_calls_per_change"] = round(admitted / max(1, out["applied"]), 2)
    return out


def expiry_burst(
    proc: BridgeProcess, graph: GraphSandbox, t: Tenant, n: int, lead: float, url: str
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
    recorded = proc.measured("poll")
    wait = (end - datetime.now(UTC)).total_seconds()
    if wait < 0:
        raise SystemExit(f"the poll recording the ends outlasted the {lead:g}s lead: raise --lead")
    time.sleep(wait)
    out = proc.measured("expire")
    engine = create_engine(url)
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
        ic_calls_per_s=round(admitted / out["wall_s"], 2),
        ic_calls_per_change=round(admitted / max(1, out["applied"]), 2),
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


def run(
    groups: int, users: int, accounts: int, burst: int, watch_n: int, lead: float
) -> dict[str, Any]:
    logging.getLogger("bridge").setLevel(logging.CRITICAL)
    db = RESULTS / "scale.db"
    for stale in RESULTS.glob("scale.db*"):
        stale.unlink()
    url = f"sqlite:///{db}"
    with GraphSandbox() as graph, AwsSandbox(async_delay=ASYNC_DELAY) as aws:
        os.environ.update(aws.credentials_env())
        os.environ.update(
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            PIM_BRIDGE_GRAPH_TOKEN=graph.token,
        )
        started = time.perf_counter()
        # Spare users: the poll's burst, the watcher's burst, and one for the one-change look.
        t = seed(graph, aws, groups, users, accounts, burst + watch_n + 1)
        # Entra applies a change to the group's members at once, until the watcher's burst:
        # the one-change look must see the change it was given.
        graph.delta.delay = MembershipDelay(0.0, 0.0)
        meter = Meter(graph, aws)
        proc = BridgeProcess(config_for(graph, aws, t, url), meter)
        # Names resolve once at start (one DescribeGroup per mapped group); outside the
        # measured cycles and before latency and the rate limit are switched on.
        # In parts: the seeding's own rows must not set the bridge process's peak RSS.
        seeds = ledger_seed(t, users)
        for i in range(0, len(seeds), SEED_CHUNK):
            proc.call("seed_ledger", seeds[i : i + SEED_CHUNK])
        del seeds
        seeded_s = time.perf_counter() - started
        graph.latency, aws.latency = GRAPH_LATENCY, AWS_LATENCY
        aws.set_rate_limit(CEILING)
        figures: dict[str, Any] = {
            "groups": groups,
            "users_with_live_grants": users,
            "accounts": len(t.accounts),
            "grants": users * 2,
            "burst": burst,
            "watch_burst_n": watch_n,
            "injected_latency_ms": {"graph": GRAPH_LATENCY * 1000, "aws": AWS_LATENCY * 1000},
            "async_delay_s": ASYNC_DELAY,
            "ic_rate_limit_per_s": CEILING,
            "seed_s": round(seeded_s, 1),
            "sandboxes_rss_mb": round(rss_mb(), 1),
            "rss_measured": RSS_HOW,
        }
        try:
            figures["first_poll"] = proc.measured("poll")
            figures["no_change_poll"] = proc.measured("poll")
            figures["watch"] = watch_looks(
                proc,
                lambda: activate(graph, t, users + burst + watch_n, datetime.now(UTC), HOURS_8),
            )
            # Before the bursts and tracemalloc's own bookkeeping (its record of every live
            # allocation is larger than the allocations): the figure the target is about.
            figures["bridge_peak_rss_mb"] = proc.call("rss")["peak_rss_mb"]
            # Another full poll with nothing new since the one-change look: no change again.
            figures["no_change_poll"]["traced"] = proc.measured("poll_traced")
            if watch_n:
                figures["watch_burst"] = watch_burst(proc, graph, t, users + burst, watch_n, url)
            if burst:
                figures["activations"] = activation_burst(proc, graph, t, users, burst)
                figures["expiries"] = expiry_burst(proc, graph, t, burst, lead, url)
        finally:
            figures["bridge_peak_rss_mb_end"] = proc.close()["peak_rss_mb"]
    figures["targets"] = verdicts(figures)
    return figures


def verdicts(f: dict[str, Any]) -> dict[str, dict[str, Any]]:
    nc, watch = f["no_change_poll"], f["watch"]
    quiet = watch["no_change_look"]
    pairs: dict[str, tuple[float, str]] = {
        "watch_no_change_graph_calls": (quiet["graph_calls"], "<="),
        "watch_no_change_cpu_s": (quiet["bridge_cpu_s"], "<="),
        "watch_no_change_ic_calls": (quiet["ic_calls"], "<="),
        "no_change_graph_calls": (nc["graph_calls"], "<="),
        "no_change_ic_writes": (nc["ic_writes"], "<="),
        "no_change_wall_s": (nc["wall_s"], "<="),
        "bridge_peak_rss_mb": (f["bridge_peak_rss_mb"], "<="),
    }
    if "watch_burst" in f:
        pairs["watch_burst_access_p99_s"] = (f["watch_burst"]["access_s"]["p99"], "<=")
    if "activations" in f:
        pairs["activation_ceiling_share"] = (f["activations"]["ceiling_share"], ">=")
    out = {}
    for name, (value, op) in pairs.items():
        target = TARGETS[name]
        met = value <= target if op == "<=" else value >= target
        out[name] = {"value": value, "target": f"{op} {target:g}", "met": met}
    return out


Row = tuple[str, str, str]


def table(f: dict[str, Any]) -> str:
    rows = [*_poll_rows(f), *_watch_rows(f), *_burst_rows(f)]
    head = (
        f"scale: {f['groups']} groups, {f['users_with_live_grants']} users with live grants "
        f"({f['grants']} grants), {f['accounts']} accounts; Graph "
        f"{f['injected_latency_ms']['graph']:.0f} ms/call, AWS "
        f"{f['injected_latency_ms']['aws']:.0f} ms/call, async {f['async_delay_s']:g} s, "
        f"Identity Center limited to {f['ic_rate_limit_per_s']:g} calls/s"
    )
    lines = [head, f"| {'measure':47} | {'value':>12} | {'target':21} |"]
    lines.append(f"|{'-' * 49}|{'-' * 13}:|{'-' * 23}|")
    lines += [f"| {a:47} | {b:>12} | {c:21} |" for a, b, c in rows]
    lines.append(f"RSS: {f['rss_measured']}")
    return "\n".join(lines)


def _poll_rows(f: dict[str, Any]) -> list[Row]:
    first, nc = f["first_poll"], f["no_change_poll"]
    return [
        ("safety-net (no-change) poll: Graph HTTP calls", str(nc["graph_calls"]), "<= 110"),
        ("safety-net poll: IC calls (writes)", f"{nc['ic_calls']} ({nc['ic_writes']})", "0 writes"),
        ("safety-net poll: wall time", f"{nc['wall_s']:.2f} s", "<= 5 s"),
        ("safety-net poll: bridge CPU", f"{nc['bridge_cpu_s']:.2f} s", ""),
        ("safety-net poll: of its wall, the PIM read", f"{nc['graph_read_s']:.2f} s", ""),
        (
            "safety-net poll: Python peak (tracemalloc)",
            f"{nc['traced']['traced_peak_mb']:.0f} MB",
            "",
        ),
        (
            "bridge peak RSS, its own process (getrusage)",
            f"{f['bridge_peak_rss_mb']:.0f} MB",
            "<= 150 MB",
        ),
        ("  sandboxes and seeded tenant, other process", f"{f['sandboxes_rss_mb']:.0f} MB", ""),
        ("first poll after start: Graph calls", str(first["graph_calls"]), ""),
        ("first poll after start: wall time", f"{first['wall_s']:.2f} s", ""),
    ]


def _watch_rows(f: dict[str, Any]) -> list[Row]:
    look, quiet, one = (f["watch"][k] for k in ("first_look", "no_change_look", "one_change_cycle"))
    return [
        ("no-change watch look: Graph HTTP calls", str(quiet["graph_calls"]), "<= 40"),
        ("no-change watch look: bridge CPU", f"{quiet['bridge_cpu_s']:.2f} s", "<= 0.3 s"),
        ("no-change watch look: IC calls", str(quiet["ic_calls"]), "0"),
        ("no-change watch look: ledger rows read", str(quiet["ledger_rows_read"]), ""),
        ("no-change watch look: wall time", f"{quiet['wall_s']:.2f} s", ""),
        ("one-change watch cycle: ledger rows read", str(one["ledger_rows_read"]), ""),
        ("one-change watch cycle: bridge CPU", f"{one['bridge_cpu_s']:.2f} s", ""),
        (
            "one-change watch cycle: Graph / IC calls",
            f"{one['graph_calls']} / {one['ic_calls']}",
            "",
        ),
        ("one-change watch cycle: wall time", f"{one['wall_s']:.2f} s", ""),
        ("first watch look, no link kept: Graph calls", str(look["graph_calls"]), ""),
        ("first watch look, no link kept: wall time", f"{look['wall_s']:.2f} s", ""),
    ]


def _burst_rows(f: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    if "watch_burst" in f:
        wb = f["watch_burst"]
        a = wb["access_s"]
        rows += [
            (f"{a['n']} activations, watched: -> access p50", f"{a['p50']:.1f} s", ""),
            (f"{a['n']} activations, watched: -> access p99", f"{a['p99']:.1f} s", "<= 5 s"),
            (
                f"{a['n']} activations, watched: IC calls",
                str(wb["ic_calls_admitted"]),
                f"floor {wb['floor_s']} s",
            ),
        ]
    if "activations" in f:
        act, exp, n = f["activations"], f["expiries"], f["burst"]
        w = exp["window_s"]
        rows += [
            (f"{n} activations, one poll: wall time", f"{act['wall_s']:.1f} s", ""),
            (f"{n} activations: changes/s", f"{act['changes_per_s']:.1f}", ""),
            (
                f"{n} activations: IC calls/s (of 20)",
                f"{act['ic_calls_per_s']:.1f} ({act['ceiling_share']:.0%})",
                ">= 90 %",
            ),
            (f"{n} expiries: end -> removed p50", f"{w['p50']:.1f} s", ""),
            (f"{n} expiries: end -> removed p99", f"{w['p99']:.1f} s", "as low as 20/s allows"),
            (f"{n} expiries: end -> removed max", f"{w['max']:.1f} s", f"floor {exp['floor_s']} s"),
        ]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--burst", type=int, default=1000, help="0: no poll and expiry bursts")
    parser.add_argument("--watch-burst", type=int, default=100, help="0: no watched burst")
    parser.add_argument(
        "--lead", type=float, default=60.0, help="seconds from cutting the ends to the expiry"
    )
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    figures = run(args.groups, args.users, args.accounts, args.burst, args.watch_burst, args.lead)
    figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    (RESULTS / "scale.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(table(figures))
    print(f"written: {RESULTS / 'scale.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
