"""The report with `--activity`: each grant's digest as the ledger holds it, in every format,
with the anomalies it shows; without it, the report is as before."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest

from bridge.activity.digest import Digest, GrantActivity, ScanTotals
from bridge.model import AccountAssignment, Ended, Grant, GrantVerdicts, Reason, User
from bridge.report import ReportQuery, write_report
from bridge.report.columns import NAMES
from bridge.report.contract import SCHEMA
from bridge.store import Ledger

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
TARGET = AccountAssignment("111111111111", "arn:aws:sso:::permissionSet/ssoins-1/ps-1")
LABEL = ("AdministratorAccess @ 111111111111",)


def _ended(ledger: Ledger, who: str, minutes: int = 30) -> int:
    user = User(f"p-{who}", f"{who}@x", f"ic-{who}")
    g = Grant(user, TARGET, T0, T0 + minutes * MIN, f"i-{who}", "m")
    ledger.record_verdicts(GrantVerdicts(new=(g,)), T0)
    ledger.record_verdicts(GrantVerdicts(ended=(Ended(g, Reason.EXPIRED, g.not_after),)), T0)
    ids = {r.user_name: r.id for r in ledger.activity_grants(T0 - MIN, T0 + 1000 * MIN)}
    return ids[f"{who}@x"]


def _digest(**kw: object) -> Digest:
    d = Digest(**kw)  # type: ignore[arg-type]
    d.services.update({"s3.amazonaws.com": 3, "ec2.amazonaws.com": 1})
    return d


@pytest.fixture
def ledger() -> Ledger:
    ledger = Ledger("sqlite://")
    used = _digest(
        calls=4,
        first_use=T0 + MIN,
        last_use=T0 + 40 * MIN,
        used_after_end=1,
        used_after_end_first=T0 + 40 * MIN,
        used_after_end_call="s3.amazonaws.com ListBuckets",
    )
    held = _digest(
        calls=5,
        errors=1,
        first_use=T0 + MIN,
        denied_after_end=1,
        denied_after_end_first=T0 + 31 * MIN,
    )
    found = {
        _ended(ledger, "mallory"): GrantActivity(used, LABEL, True, T0),
        _ended(ledger, "alice"): GrantActivity(held, LABEL, True, T0),
        _ended(ledger, "bob"): GrantActivity(Digest(), LABEL, True, T0),
    }
    _ended(ledger, "carol")  # never read
    scan_id, _ = ledger.claim_activity({}, T0)
    totals = ScanTotals(3, 12, 10, 1, 1, [("AWSLogs/x.json.gz", "truncated or not JSON")])
    ledger.finish_activity(scan_id, found, totals, T0 + 100 * MIN)
    return ledger


def _report(ledger: Ledger, fmt: str, activity: bool = True) -> str:
    out = io.StringIO(newline="")
    write_report(ledger, ReportQuery(now=T0 + 200 * MIN, activity=activity), fmt, out)
    return out.getvalue()


def _rows(ledger: Ledger) -> dict[str, dict[str, object]]:
    doc = json.loads(_report(ledger, "json"))
    return {r["user"].split("@")[0]: r for r in doc["rows"]}


def test_a_call_that_succeeded_after_the_end_is_a_critical_anomaly(ledger: Ledger) -> None:
    doc = json.loads(_report(ledger, "json"))
    used = [a for a in doc["anomalies"] if a["kind"] == "used_after_end"]
    assert len(used) == 1 and used[0]["severity"] == "critical"
    assert used[0]["user"] == "mallory@x"
    assert "600.0s after it (s3.amazonaws.com ListBuckets)" in used[0]["detail"]
    assert doc["anomalies"][0]["kind"] == "used_after_end"  # critical first


def test_refused_calls_after_the_end_are_evidence_that_revocation_held(ledger: Ledger) -> None:
    doc = json.loads(_report(ledger, "json"))
    (held,) = [a for a in doc["anomalies"] if a["kind"] == "denied_after_end"]
    assert held["severity"] == "info" and held["user"] == "alice@x"
    assert "60.0s after it: revocation held" in held["detail"]


def test_an_activation_without_one_call_is_an_unused_grant(ledger: Ledger) -> None:
    doc = json.loads(_report(ledger, "json"))
    (unused,) = [a for a in doc["anomalies"] if a["kind"] == "unused_grant"]
    assert unused["user"] == "bob@x" and unused["severity"] == "info"
    assert "30 min of access to AdministratorAccess @ 111111111111" in unused["detail"]


def test_json_rows_carry_the_activity_object_and_validate(ledger: Ledger) -> None:
    doc = json.loads(_report(ledger, "json"))
    jsonschema.validate(doc, SCHEMA, format_checker=jsonschema.FormatChecker())
    rows = {r["user"].split("@")[0]: r for r in doc["rows"]}
    assert rows["mallory"]["activity"] == {
        "first_use": "2026-11-24T12:01:00Z",
        "last_use": "2026-11-24T12:40:00Z",
        "calls": 4,
        "errors": 0,
        "services": ["s3.amazonaws.com", "ec2.amazonaws.com"],
        "used_after_end": 1,
        "denied_after_end": 0,
        "complete": True,
    }
    assert rows["carol"]["activity"] is None
    summary = doc["summary"]["activity"]
    assert (summary["grants"], summary["used_after_end"], summary["unused_grants"]) == (3, 1, 1)
    assert (summary["records"], summary["unattributed"]) == (12, 1)
    assert summary["skipped"] == [{"key": "AWSLogs/x.json.gz", "reason": "truncated or not JSON"}]


def test_without_activity_rows_have_none_and_the_summary_no_section(ledger: Ledger) -> None:
    doc = json.loads(_report(ledger, "json", activity=False))
    jsonschema.validate(doc, SCHEMA)
    assert {r["activity"] is None for r in doc["rows"]} == {True}
    assert "activity" not in doc["summary"]
    assert not {"used_after_end", "unused_grant"} & {a["kind"] for a in doc["anomalies"]}


def test_csv_has_a_column_per_activity_field(ledger: Ledger) -> None:
    rows = list(csv.DictReader(io.StringIO(_report(ledger, "csv"), newline="")))
    assert tuple(rows[0]) == NAMES
    by = {r["user"].split("@")[0]: r for r in rows}
    assert by["mallory"]["activity.calls"] == "4"
    assert by["mallory"]["activity.services"] == "s3.amazonaws.com;ec2.amazonaws.com"
    assert by["carol"]["activity.calls"] == "" and by["carol"]["activity.complete"] == ""


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_human_formats_show_an_activity_column_and_the_summary(ledger: Ledger, fmt: str) -> None:
    text = _report(ledger, fmt)
    assert "4 calls 2026-11-24 12:01:00Z - 2026-11-24 12:40:00Z; s3, ec2; 1 USED AFTER END" in text
    assert "5 calls; s3, ec2; 1 errors; 1 refused after end" in text
    assert "12 records in 3 log files (1 unattributed)" in text
    without = _report(ledger, fmt, activity=False)
    assert "USED AFTER END" not in without and "log files" not in without


def test_the_terminal_table_has_the_activity_column_before_the_anomalies(ledger: Ledger) -> None:
    text = _report(ledger, "table")
    summary = " ".join(text.split("Anomalies (", 1)[0].split())  # long values wrap at the width
    assert "12 records in 3 log files (1 unattributed); 1 skipped: AWSLogs/x.json.gz" in summary
    grants = text.split("Grants (4)", 1)[1]
    header = next(line for line in grants.splitlines() if "user" in line and "mapping" in line)
    assert header.index("activity") < header.index("anomalies")
    assert "activity" not in _report(ledger, "table", activity=False).split("Grants (4)")[1]


def test_an_info_anomaly_alone_does_not_mark_the_row_anomalous(ledger: Ledger) -> None:
    html = _report(ledger, "html")
    grants = html.split('id="grants"', 1)[1]
    anomalous = [line for line in grants.splitlines() if 'class="anomalous"' in line]
    assert len(anomalous) == 1 and "mallory@x" in anomalous[0]
