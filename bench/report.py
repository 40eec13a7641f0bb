"""Report benchmark: how long `pim-bridge report` takes on a ledger of many grants, and how much
memory it needs, per format.

    python -m bench.report [--grants 100000] [--formats csv,json,md,html,table] [--ledger FILE]

The ledger is written straight into SQLite in bulk (a sync cycle per grant would take hours):
every grant has its add, ended grants their remove, one in fifty a failed first removal, and the
findings and denials a busy week leaves behind. `--ledger FILE` keeps it there (and reuses it
when it exists).

Each format runs in a fresh Python process of its own, so its peak memory is its own: the
child's `resource.getrusage(RUSAGE_SELF).ru_maxrss` when it is done, imports included, as a
`pim-bridge report` run would pay them. Seconds are the wall time of writing the report (CPU
seconds beside them: the machine may be shared). Each figure is printed beside its target
(TARGET_SECONDS, TARGET_MB); figures go to bench/results/report.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bridge.report import ReportQuery, write_report
from bridge.schema import changes, cycles, denials, findings, grants
from bridge.store import Ledger

RESULTS = Path(__file__).parent / "results"
PS_ARN = "arn:aws:sso:::permissionSet/ssoins-1/ps-bench"
ACCOUNTS = [f"{n:012d}" for n in range(100000000001, 100000000011)]
BATCH = 5000
# What `report` must manage at 100,000 grants, per format.
TARGET_SECONDS = 3.0
TARGET_MB = 150.0
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def build_ledger(url: str, n: int, now: datetime) -> None:
    rng = random.Random(7)
    ledger = Ledger(url)
    g_rows: list[dict[str, Any]] = []
    c_rows: list[dict[str, Any]] = []
    d_rows: list[dict[str, Any]] = []
    start0 = now - timedelta(days=7)
    with ledger.engine.begin() as conn:
        conn.execute(insert(cycles).values(kind="sync", started_at=start0, status="ok"))
        for i in range(n):
            user = f"user{i % 5000:04d}"
            start = start0 + timedelta(seconds=i * 6)
            end = start + timedelta(hours=1)
            live = end > now
            if i % 2:
                key = f"group:g-{i % 20}"
            else:
                key = f"assignment:{ACCOUNTS[i % len(ACCOUNTS)]}:{PS_ARN}"
            ic = f"ic-{user}"
            g_rows.append(
                {
                    "mapping": f"map-{i % 20}",
                    "source_instance_id": f"inst-{i}",
                    "target_key": key,
                    "principal_id": f"p-{user}",
                    "user_name": f"{user}@example.com",
                    "ic_user_id": ic,
                    "not_before": start,
                    "not_after": end,
                    "justification": f"INC-{i}",
                    "ticket": f"T-{i}",
                    "approver": "approver@example.com",
                    "first_seen": start + timedelta(seconds=1),
                    "last_seen": min(end, now),
                    "extended_count": 0,
                    "state": "live" if live else "ended",
                    "ended_at": None if live else end,
                    "end_reason": None if live else "expired",
                }
            )
            added = start + timedelta(seconds=1 + rng.random() * 3)
            base = {"ic_user_id": ic, "user_name": f"{user}@example.com", "target_key": key}
            c_rows.append(
                {
                    **base,
                    "op": "add",
                    "reason": "activated",
                    "status": "ok",
                    "intent_at": added,
                    "outcome_at": added,
                }
            )
            if not live:
                removed = end + timedelta(seconds=rng.random() * (90 if i % 50 == 0 else 2))
                if i % 50 == 0:
                    c_rows.append(
                        {
                            **base,
                            "op": "remove",
                            "reason": "expired",
                            "status": "failed",
                            "error": "ThrottlingException",
                            "intent_at": end,
                            "outcome_at": end,
                        }
                    )
                c_rows.append(
                    {
                        **base,
                        "op": "remove",
                        "reason": "expired",
                        "status": "ok",
                        "intent_at": removed,
                        "outcome_at": removed,
                    }
                )
                if key.startswith("assignment:"):
                    d_rows.append(
                        {
                            "at": removed,
                            "ic_user_id": ic,
                            "permission_set_arn": PS_ARN,
                            "accounts": [key.split(":")[1]],
                            "status": "failed" if i % 997 == 0 else "provisioned",
                            "done_at": removed + timedelta(seconds=2),
                        }
                    )
            if len(g_rows) >= BATCH:
                _flush(conn, g_rows, c_rows, d_rows)
        _flush(conn, g_rows, c_rows, d_rows)
        # A standing unknown user reported at every 15 s poll for a week.
        conn.execute(
            insert(findings),
            [
                {
                    "at": start0 + timedelta(seconds=15 * k),
                    "kind": "unresolved_user",
                    "mapping": "map-0",
                    "detail": "ghost@example.com: no Identity Center user",
                }
                for k in range(7 * 24 * 240)
            ],
        )
    ledger.close()


def _flush(conn: Any, g: list[dict[str, Any]], c: list[dict[str, Any]], d: list[Any]) -> None:
    for table, rows in ((grants, g), (changes, c), (denials, d)):
        if rows:
            conn.execute(insert(table), rows)
            rows.clear()


def measure(url: str, fmt: str, now: datetime, out_dir: Path) -> dict[str, Any]:
    """One format's report, in this process: run it as the only thing a fresh process does."""
    ledger = Ledger(url)
    path = out_dir / f"report.{fmt}"
    started, cpu = time.perf_counter(), time.process_time()
    with path.open("w", encoding="utf-8", newline="") as out:
        summary = write_report(ledger, ReportQuery(now=now), fmt, out)
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    ledger.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes
    return {
        "format": fmt,
        "seconds": round(took, 2),
        "cpu_seconds": round(cpu, 2),
        "peak_mb": round(peak_mb, 1),
        "seconds_vs_target": round(took / TARGET_SECONDS, 2),
        "mb_vs_target": round(peak_mb / TARGET_MB, 2),
        "grants": summary.data.grants,
        "anomalies": len(summary.anomalies),
        "bytes": path.stat().st_size,
    }


def measure_apart(url: str, fmt: str, out_dir: Path) -> dict[str, Any]:
    """`measure` in a child process of its own, for a peak memory no other format shares."""
    argv = [
        sys.executable,
        "-m",
        "bench.report",
        "--one",
        fmt,
        "--url",
        url,
        "--out",
        str(out_dir),
    ]
    root = Path(__file__).parent.parent  # where `bench` is a package
    done = subprocess.run(argv, check=True, capture_output=True, text=True, cwd=root)
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def _ledger(path: str | None, tmp: Path, grants: int) -> tuple[str, float | None]:
    """The ledger's URL, built unless the file is there; and how long building took (None:
    reused)."""
    file = Path(path) if path else tmp / "ledger.db"
    url = f"sqlite:///{file}"
    if file.exists():
        return url, None
    started = time.perf_counter()
    build_ledger(url, grants, NOW)
    return url, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grants", type=int, default=100_000)
    parser.add_argument("--formats", default="csv,json,md,html,table")
    parser.add_argument("--ledger", metavar="FILE", help="build the ledger here, or reuse it")
    parser.add_argument("--one", metavar="FORMAT", help=argparse.SUPPRESS)  # a child's format
    parser.add_argument("--url", help=argparse.SUPPRESS)  # the child's ledger
    parser.add_argument("--out", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.url, args.one, NOW, Path(args.out))))
        return 0
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        url, built = _ledger(args.ledger, Path(tmp), args.grants)
        runs = [measure_apart(url, f, Path(tmp)) for f in args.formats.split(",")]
    figures = {
        "grants": args.grants,
        "ledger_build_s": None if built is None else round(built, 1),
        "target_seconds": TARGET_SECONDS,
        "target_mb": TARGET_MB,
        "runs": runs,
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "report.json").write_text(json.dumps(figures, indent=2) + "\n")
    _print(figures, built)
    return 0


def _print(figures: dict[str, Any], built: float | None) -> None:
    how = "ledger reused" if built is None else f"ledger built in {built:.1f}s"
    print(f"report benchmark: {figures['grants']} grants ({how})")
    print(f"  targets: {TARGET_SECONDS:g} s and {TARGET_MB:g} MB peak per format")
    for r in figures["runs"]:
        print(
            f"  {r['format']:6} {r['seconds']:6.2f}s ({r['seconds_vs_target']:.2f}x target, "
            f"{r['cpu_seconds']:.2f}s CPU)  peak {r['peak_mb']:6.1f} MB "
            f"({r['mb_vs_target']:.2f}x)  {r['bytes'] / 1e6:5.1f} MB written, "
            f"{r['anomalies']} anomalies"
        )
    before, after = figures["load_average_before"], figures["load_average_after"]
    print(f"  load average {before[0]:.2f} before, {after[0]:.2f} after, {figures['cpus']} CPUs")
    print(f"  written: {RESULTS / 'report.json'}")


if __name__ == "__main__":
    raise SystemExit(main())
