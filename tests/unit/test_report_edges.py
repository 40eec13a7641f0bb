"""The report at its edges, on small ledgers written through the ledger's own API: what the data
holds is shown as data, never run as markup, and a failure that persists is one anomaly."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from bridge.report import ReportQuery, write_report
from bridge.store import Ledger

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PS = "arn:aws:sso:::permissionSet/ssoins-1/ps-admin"


@pytest.fixture
def ledger() -> Ledger:
    return Ledger("sqlite://")


def _report(ledger: Ledger, fmt: str, now: datetime, **filters: object) -> str:
    out = io.StringIO(newline="")
    write_report(ledger, ReportQuery(now=now, **filters), fmt, out)  # type: ignore[arg-type]
    return out.getvalue()


def test_a_denial_failing_the_same_way_every_cycle_is_one_anomaly_while_it_lasts(
    ledger: Ledger,
) -> None:
    why = "policy ps-admin is not a policy document the bridge can rewrite safely"
    for tick in range(12):  # an arming tick every 5 s for a minute
        at = T0 + timedelta(seconds=5 * tick)
        ledger.record_denials(at, PS, {"ic-alice": {"111111111111"}}, "failed", None, why)
    ledger.record_denials(T0, PS, {"ic-bob": {"111111111111"}}, "overflow", None, "full")

    doc = json.loads(_report(ledger, "json", T0 + timedelta(minutes=5)))

    denials = [a for a in doc["anomalies"] if a["kind"] == "denial_not_written"]
    assert len(denials) == 2
    alice = next(a for a in denials if "failed" in a["detail"])
    assert alice["count"] == 12 and why in alice["detail"]
    assert alice["first_at"] == "2026-11-24T12:00:00Z"
    assert alice["last_at"] == "2026-11-24T12:00:55Z"
    assert doc["summary"]["anomalies"]["total"] == len(doc["anomalies"])
