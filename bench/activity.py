"""Activity benchmark: how long digesting an organization trail takes, and in how much memory.

    python -m bench.activity [--records 1000000] [--days 30] [--accounts 50]

moto's S3 server runs in a process of its own and is filled by another, so the figures are the
reader's alone: a ledger of back-to-back eight-hour grants on every account for every day, and
log files of CloudTrail records (one a day per account, as many records each as the total asks
for) that are 80 % the grants' sessions, 10 % Identity Center sessions no grant explains and
10 % service roles; some calls come after an end, refused or not. One reading, as `report
--activity` makes it, digests every file. Figures go to bench/results/activity.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from sqlalchemy import insert

from bridge.activity.job import digest_activity
from bridge.activity.layout import TrailLayout
from bridge.activity.targets import LedgerGrant
from bridge.config import TRAIL_LAYOUT, config_from_dict
from bridge.model import AccountAssignment
from bridge.sandbox.aws.trail import ORG_ID, role_name, sso_record
from bridge.schema import grants
from bridge.store import Ledger

RESULTS = Path(__file__).parent / "results"
BUCKET = "bench-org-trail"
REGION = "us-east-1"
PS, PS_ARN = "AdministratorAccess", "arn:aws:sso:::permissionSet/ssoins-bench/ps-bench"
USERS = 500
GRANT_HOURS = 8
# Real trails deliver a file every few minutes; moto's S3 spends milliseconds of Python on
# each request, so the files are batched per account and day to time the reader, not moto.
FILES_PER_DAY = 1
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class Names:
    """Identity Center's answers, without Identity Center: the benchmark measures the trail."""

    def user_name(self, user_id: str) -> str | None:
        return f"{user_id.removeprefix('ic-')}@example.com"

    def permission_set_name(self, permission_set_arn: str) -> str:
        return PS

    def group_assignments(self, group_id: str) -> list[AccountAssignment]:
        return []


def accounts(n: int) -> list[str]:
    return [f"{100000000000 + i:012d}" for i in range(n)]


def holder(account: int, day: int, slot: int) -> str:
    """Who holds the grant of this account, day and eight-hour slot."""
    return f"user{(account * 7 + day * 3 + slot) % USERS:03d}"


def build_ledger(url: str, start: datetime, days: int, n_accounts: int) -> int:
    ledger = Ledger(url)
    rows: list[dict[str, Any]] = []
    for a, account in enumerate(accounts(n_accounts)):
        for day in range(days):
            for slot in range(24 // GRANT_HOURS):
                who = holder(a, day, slot)
                begin = start + timedelta(days=day, hours=slot * GRANT_HOURS)
                end = begin + timedelta(hours=GRANT_HOURS)
                rows.append(
                    {
                        "mapping": "bench",
                        "source_instance_id": f"i-{account}-{day}-{slot}",
                        "target_key": f"assignment:{account}:{PS_ARN}",
                        "principal_id": f"p-{who}",
                        "user_name": f"{who}@example.com",
                        "ic_user_id": f"ic-{who}",
                        "not_before": begin,
                        "not_after": end,
                        "first_seen": begin,
                        "last_seen": end,
                        "extended_count": 0,
                        "state": "ended",
                        "ended_at": end,
                        "end_reason": "expired",
                    }
                )
    with ledger.engine.begin() as conn:
        conn.execute(insert(grants), rows)
    ledger.close()
    return len(rows)


def _records(a: int, account: str, day: int, file_no: int, n: int, start: datetime) -> list[Any]:
    """The records of one log file: calls of the hours before its delivery."""
    rng = random.Random(f"{a}-{day}-{file_no}")
    role = role_name(PS, PS_ARN, account)
    hours = 24 // FILES_PER_DAY
    span_start = start + timedelta(days=day, hours=file_no * hours)
    out: list[Any] = []
    for _ in range(n):
        at = span_start + timedelta(seconds=rng.random() * (hours * 3600 - 120))
        slot = int((at - start - timedelta(days=day)).total_seconds() // (GRANT_HOURS * 3600))
        kind = rng.random()
        who, issued, error = holder(a, day, min(slot, 2)), at - timedelta(minutes=5), None
        if kind < 0.10:
            who = f"outsider{rng.randrange(20)}"  # an Identity Center session of no grant
        elif kind < 0.11:
            error = "AccessDenied" if kind < 0.109 else None  # a call after the end
            issued = at - timedelta(minutes=30)
            slot_start = start + timedelta(days=day, hours=max(slot, 0) * GRANT_HOURS)
            if issued >= slot_start:  # issued in the grant before, still calling
                issued = slot_start - timedelta(minutes=10)
                who = holder(a, day, slot - 1) if slot else holder(a, day - 1, 2)
        record = sso_record(
            account_id=account,
            role=role,
            user_name=f"{who}@example.com",
            issued_at=issued,
            at=at,
            action=rng.choice(("s3:GetObject", "ec2:DescribeInstances", "iam:ListRoles")),
            region=REGION,
            error=error,
        )
        if kind > 0.90:  # a service role
            issuer = record["userIdentity"]["sessionContext"]["sessionIssuer"]
            issuer["userName"] = "deploy-pipeline"
            issuer["arn"] = f"arn:aws:iam::{account}:role/deploy-pipeline"
        out.append(record)
    return out


def fill(endpoint: str, start: datetime, days: int, n_accounts: int, per_file: int) -> None:
    """Deliver every log file (run in a process of its own)."""
    s3 = boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=endpoint,
        config=BotoConfig(max_pool_connections=16),
        **{k.lower(): v for k, v in CREDENTIALS.items()},
    )
    s3.create_bucket(Bucket=BUCKET)
    layout = TrailLayout(TRAIL_LAYOUT, ORG_ID)

    def put(job: tuple[int, str, int, int]) -> None:
        a, account, day, file_no = job
        records = _records(a, account, day, file_no, per_file, start)
        delivered = start + timedelta(days=day, hours=(file_no + 1) * 24 // FILES_PER_DAY)
        delivered -= timedelta(minutes=1)  # in its own day's folder
        key = layout.day(account, REGION, delivered.date()) + TrailLayout.file_prefix(
            account, REGION, delivered
        )
        body = gzip.compress(json.dumps({"Records": records}).encode(), compresslevel=6)
        s3.put_object(
            Bucket=BUCKET, Key=f"{key}_{a:04d}{day:03d}{file_no:02d}bench.json.gz", Body=body
        )

    jobs = [
        (a, account, day, f)
        for a, account in enumerate(accounts(n_accounts))
        for day in range(days)
        for f in range(FILES_PER_DAY)
    ]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, jobs))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, seconds: float = 30) -> None:
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("moto's server did not start")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--accounts", type=int, default=50)
    args = parser.parse_args(argv)
    os.environ.update(CREDENTIALS)
    per_file = max(1, args.records // (args.days * args.accounts * FILES_PER_DAY))
    start = (datetime.now(UTC) - timedelta(days=args.days + 2)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait(port)
        started = time.perf_counter()
        filler = multiprocessing.get_context("spawn").Process(
            target=fill, args=(endpoint, start, args.days, args.accounts, per_file)
        )
        filler.start()
        filler.join()
        filled = time.perf_counter() - started
        with tempfile.TemporaryDirectory(prefix="bench-activity-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'ledger.db'}"
            n_grants = build_ledger(url, start, args.days, args.accounts)
            figures = measure(url, endpoint, start, args.days)
    finally:
        server.terminate()
        server.wait(10)
    figures |= {
        "records_asked": args.records,
        "days": args.days,
        "accounts": args.accounts,
        "grants": n_grants,
        "fill_s": round(filled, 1),
        "cpus": os.cpu_count(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "activity.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(
        f"activity benchmark: {figures['records']} records in {figures['log_files']} log files, "
        f"{args.days} days x {args.accounts} accounts, {n_grants} grants (filled in {filled:.0f}s)"
    )
    print(
        f"  digested in {figures['seconds']:.1f}s ({figures['records_per_s']:.0f} records/s), "
        f"peak memory {figures['max_rss_mb']} MB; {figures['attributed']} attributed, "
        f"{figures['unattributed']} unattributed, {figures['other']} other; "
        f"written: {RESULTS / 'activity.json'}"
    )
    return 0


def measure(url: str, endpoint: str, start: datetime, days: int) -> dict[str, Any]:
    config = config_from_dict(
        {
            "aws": {
                "identity_store_id": "d-bench",
                "instance_arn": "arn:aws:sso:::instance/ssoins-bench",
                "endpoint_url": endpoint,
            },
            "mappings": [{"name": "bench", "entra_group_id": "g", "identity_center_group": "G"}],
            "activity": {
                "cloudtrail_bucket": BUCKET,
                "organization_id": ORG_ID,
                "regions": [REGION],
            },
        },
        {},
    )
    ledger = Ledger(url)
    now = datetime.now(UTC)
    chosen = [LedgerGrant.of(r) for r in ledger.activity_grants(start, now)]
    started = time.perf_counter()
    result = digest_activity(config, ledger, chosen, now, names=Names())
    took = time.perf_counter() - started
    ledger.close()
    t = result.totals
    return {
        "seconds": round(took, 2),
        "records": t.records,
        "log_files": t.objects,
        "records_per_s": round(t.records / took) if took else 0,
        "attributed": t.attributed,
        "unattributed": t.unattributed,
        "other": t.other,
        "skipped": len(t.skipped),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


if __name__ == "__main__":
    raise SystemExit(main())
