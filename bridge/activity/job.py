"""The readings the CLI and the service start: `report --activity` digests the report's grants,
`run` every `[activity] interval` the grants of the last week not yet complete."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from bridge.activity.layout import TrailLayout
from bridge.activity.objects import TrailObjects
from bridge.activity.plan import ReadPlan
from bridge.activity.scan import ActivityLedger, ActivityScan, ScanResult
from bridge.activity.targets import IdentityCenterNames, LedgerGrant, Targets
from bridge.config import Config
from bridge.identity_center.client import make_client_factory

log = logging.getLogger(__name__)

# `run` looks this far back for grants whose activity is not complete yet.
RUN_LOOKBACK = timedelta(days=7)
# S3 is read with botocore's own retries: no shared rate limit to respect there.
S3_ATTEMPTS = 5


def s3_client(config: Config) -> Any:
    """A client for the trail's bucket, with `[activity] role_arn` when given."""
    a = config.activity
    aws = config.aws.model_copy(
        update={
            "role_arn": a.role_arn or config.aws.role_arn,
            "region": a.bucket_region or config.aws.region,
        }
    )
    return make_client_factory(aws, max_attempts=S3_ATTEMPTS)("s3")


def digest_activity(
    config: Config,
    ledger: ActivityLedger,
    grants: Iterable[LedgerGrant],
    now: datetime,
    names: IdentityCenterNames | None = None,
    s3: Any = None,
    settled: datetime | None = None,
) -> ScanResult:
    """Read the trail for the grants' activity not read yet and keep it in the ledger. Raises
    TrailUnreadable when the bucket cannot be read, SinkError when Identity Center cannot.
    `settled`: see `ReadPlan.of`."""
    if names is None:
        from bridge.identity_center.adapter import AwsIdentityCenter

        names = AwsIdentityCenter(config.aws)
    a = config.activity
    objects = TrailObjects(s3 or s3_client(config), a.cloudtrail_bucket, TrailLayout.of(a))
    scan = ActivityScan(ledger, objects, Targets(names), ReadPlan.of(a, now, settled), a.regions)
    return scan.run(grants, now)


def recent_grants(ledger: ActivityLedger, now: datetime) -> list[LedgerGrant]:
    """The grants `run` digests: every one live at some time in the last RUN_LOOKBACK."""
    return [LedgerGrant.of(r) for r in ledger.activity_grants(now - RUN_LOOKBACK, now)]


def digest_recent(
    config: Config, ledger: ActivityLedger, names: IdentityCenterNames, now: datetime
) -> None:
    """`run`'s reading: the log files delivered since the last one, into the recent grants'
    digests. A failed reading is logged, never raised, and read again next time."""
    try:
        result = digest_activity(config, ledger, recent_grants(ledger, now), now, names)
    except Exception as exc:  # evidence of use must never stop revocation
        log.error("reading CloudTrail activity failed: %s", exc)
        return
    log.info("%s", result.line())
