"""The bridge of bench.scale in a process of its own, so that its memory and CPU are its own:
the sandboxes and the seeded tenant (hundreds of MB of moto and Graph state) stay in the
parent, which sends this process one command at a time over a local connection and counts the
sandboxes' calls around each. The process is a fresh interpreter running this module (not a
fork, which would map the parent's heap, nor multiprocessing's spawn, which would import the
parent's main module and the sandboxes with it): it imports the bridge and nothing of moto.

    python -m bench.scale_process HOST:PORT   (the key in BENCH_SCALE_KEY, hex)

Each command answers with what it did, the process's CPU seconds it took (every thread of
the bridge: the calling one, the Graph session's event loop, the workers), the rows the
bridge read through the ledger's scanning reads, and the wall seconds its PIM reads took.
"""

from __future__ import annotations

import logging
import os
import resource
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Client, Connection
from typing import Any, NamedTuple

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import insert

from bridge.config import config_from_dict
from bridge.graph.source import GraphPimSource
from bridge.reconcile import CycleResult
from bridge.schema import grants, holdings
from bridge.store import Ledger
from bridge.watching import Watching
from bridge.wiring import Bridge, build

KEY_ENV = "BENCH_SCALE_KEY"


class GrantSeed(NamedTuple):
    """One live grant to seed, on every target of its mapping."""

    mapping: str
    instance_id: str
    principal_id: str
    user_name: str
    ic_user_id: str
    start: datetime
    end: datetime | None
    justification: str
    ticket: str


class LedgerReads:
    """Rows the bridge reads through the ledger's scanning reads, counted by wrapping them on
    the class before the bridge is built (bound methods taken at build time see the wrapper)."""

    METHODS = ("holdings", "live_grants", "live_principals", "last_ends", "blocked")

    def __init__(self) -> None:
        self.rows = 0
        self.calls = 0

    def install(self) -> None:
        for name in self.METHODS:
            setattr(Ledger, name, self._counting(getattr(Ledger, name)))

    def _counting(self, fn: Any) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            out = fn(*args, **kwargs)
            self.rows += len(out)
            self.calls += 1
            return out

        return counted


class GraphReads:
    """Wall seconds the bridge spent waiting on its PIM reads (`GraphPimSource.read_groups`),
    measured by wrapping it on the class before the bridge is built: the rest of a poll's wall
    time is the bridge's own work (the ledger, planning)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def install(self) -> None:
        read = GraphPimSource.read_groups

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return read(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        GraphPimSource.read_groups = timed


@dataclass
class _Host:
    """The service as the watch jobs see it, without a scheduler running."""

    scheduler: BackgroundScheduler = field(default_factory=BackgroundScheduler)
    is_leader: bool = True
    last_ok: datetime | None = None

    def settle(self, result: CycleResult) -> CycleResult:
        return result


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def summary(result: CycleResult | None) -> dict[str, Any]:
    if result is None:
        return {"ran": False, "read_mappings": 0, "applied": 0}
    return {
        "ran": True,
        "read_mappings": len(result.read),
        "adds": len(result.plan.adds),
        "removes": len(result.plan.removes),
        "applied": len(result.applied),
        "failed": len(result.failed),
        "status": result.status,
    }


class Commands:
    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.watching = Watching(bridge, _Host())

    def seed_ledger(self, seeds: list[GrantSeed]) -> dict[str, Any]:
        """The ledger as a bridge that mirrored every live grant would have left it. Resolving
        the mappings' names makes one Identity Center call per mapped group, before the
        measured cycles."""
        targets = self.bridge.reconciler.targets()
        now = datetime.now(UTC)
        g_rows: list[dict[str, Any]] = []
        h_rows: list[dict[str, Any]] = []
        for s in seeds:
            for target in targets[s.mapping]:
                g_rows.append(
                    {
                        "mapping": s.mapping,
                        "source_instance_id": s.instance_id,
                        "target_key": target.key,
                        "principal_id": s.principal_id,
                        "user_name": s.user_name,
                        "ic_user_id": s.ic_user_id,
                        "not_before": s.start,
                        "not_after": s.end,
                        "justification": s.justification,
                        "ticket": s.ticket,
                        "approver": None,
                        "first_seen": now,
                        "last_seen": now,
                        "extended_count": 0,
                        "state": "live",
                    }
                )
                h_rows.append(
                    {
                        "ic_user_id": s.ic_user_id,
                        "target_key": target.key,
                        "user_name": s.user_name,
                        "since": now,
                        "state": "held",
                    }
                )
        with self.bridge.ledger.engine.begin() as conn:
            conn.execute(insert(grants), g_rows)
            conn.execute(insert(holdings), h_rows)
        return {}

    def poll(self) -> dict[str, Any]:
        return summary(self.bridge.reconciler.cycle())

    def poll_traced(self) -> dict[str, Any]:
        tracemalloc.start()
        out = self.poll()
        out["traced_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
        return out

    def watch(self) -> dict[str, Any]:
        return summary(self.watching.watch())

    def watch_until(self, adds: int, every: float, timeout: float) -> dict[str, Any]:
        """Look every `every` seconds, as the watch job does, until `adds` additions are done."""
        applied, looks, end = 0, 0, time.monotonic() + timeout
        while applied < adds and time.monotonic() < end:
            started = time.monotonic()
            result = self.watching.watch()
            looks += 1
            applied += 0 if result is None else len(result.applied)
            time.sleep(max(0.0, every - (time.monotonic() - started)))
        return {"looks": looks, "applied": applied}

    def expire(self) -> dict[str, Any]:
        result = self.bridge.reconciler.expire()
        return {**summary(result), "removals": len(result.plan.removes)}

    def rss(self) -> dict[str, Any]:
        return {"peak_rss_mb": round(peak_rss_mb(), 1)}


def main(argv: list[str]) -> int:
    host, _, port = argv[1].rpartition(":")
    conn = Client((host, int(port)), authkey=bytes.fromhex(os.environ[KEY_ENV]))
    serve(conn, conn.recv())
    return 0


def serve(conn: Connection, config: dict[str, Any]) -> None:
    """The loop: one command in, its answer out, until `close`."""
    logging.getLogger("bridge").setLevel(logging.CRITICAL)
    reads, graph = LedgerReads(), GraphReads()
    reads.install()
    graph.install()
    bridge = build(config_from_dict(config, {}))
    commands = Commands(bridge)
    try:
        while True:
            name, args = conn.recv()
            if name == "close":
                break
            rows, calls, cpu, waited = reads.rows, reads.calls, cpu_s(), graph.seconds
            out = getattr(commands, name)(*args)
            out.update(
                bridge_cpu_s=round(cpu_s() - cpu, 3),
                ledger_rows_read=reads.rows - rows,
                ledger_scans=reads.calls - calls,
                graph_read_s=round(graph.seconds - waited, 3),
            )
            conn.send(out)
    finally:
        bridge.close()
        conn.send({"peak_rss_mb": round(peak_rss_mb(), 1)})


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
