"""Report benchmark: how long `pim-bridge report` takes on a ledger of many grants, per format.

    python -m bench.report [--grants 100000] [--formats csv,json,md,html,table]

The ledger is written straight into SQLite in bulk (a sync cycle per grant would take hours):
every grant has its add, ended grants their remove, one in fifty a failed first removal, and the
findings and denials a busy week leaves behind. Figures go to bench/results/report.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
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
    ledger = Ledger(url)
    path = out_dir / f"report.{fmt}"
    started = time.perf_counter()
    with path.open("w", encoding="utf-8", newline="") as out:
        summary = write_report(ledger, ReportQuery(now=now), fmt, out)
    took = time.perf_counter() - started
    ledger.close()
    return {
        "format": fmt,
        "seconds": round(took, 2),
        "grants": summary.data.grants,
        "anomalies": len(summary.anomalies),
        "bytes": path.stat().st_size,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grants", type=int, default=100_000)
    parser.add_argument("--formats", default="csv,json,md,html,table")
    args = parser.parse_args(argv)
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        started = time.perf_counter()
        build_ledger(url, args.grants, now)
        built = time.perf_counter() - started
        runs = [measure(url, f, now, Path(tmp)) for f in args.formats.split(",")]
    figures = {
        "grants": args.grants,
        "ledger_build_s": round(built, 1),
        "runs": runs,
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "cpus": os.cpu_count(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "report.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"report benchmark: {args.grants} grants (ledger built in {built:.1f}s)")
    for r in runs:
        print(
            f"  {r['format']:6} {r['seconds']:6.2f}s  {r['bytes'] / 1e6:7.1f} MB  "
            f"{r['anomalies']} anomalies"
        )
    print(f"  peak memory {figures['max_rss_mb']} MB; written: {RESULTS / 'report.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
