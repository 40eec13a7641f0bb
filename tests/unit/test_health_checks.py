"""Health decisions from what was read: thresholds, exit codes, and Graph payload parsing."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bridge.config import HealthConfig
from bridge.errors import Unreadable
from bridge.graph.health_reads import (
    Credential,
    SyncJob,
    parse_credentials,
    parse_export,
    parse_job,
    saml_signing_certificate,
)
from bridge.health import (
    Check,
    State,
    credentials_checks,
    exit_code,
    expiry_check,
    job_check,
    lag_check,
    saml_check,
)
from bridge.lag import LagStats, percentile
from bridge.metrics import BridgeMetrics
from bridge.model import Binding, Change, Plan, Reason
from bridge.reconcile import CycleResult

FIXTURES = Path(__file__).parent.parent / "fixtures" / "graph"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
H = HealthConfig()  # warn 30 days, critical 7


def body(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())["response"]["body"]


def days(n: float) -> datetime:
    return NOW + timedelta(days=n)


def test_expiry_is_ok_beyond_warn_days_warning_within_and_critical_within_critical_days() -> None:
    assert expiry_check("x", days(31), NOW, H).state == State.OK
    assert expiry_check("x", days(29), NOW, H).state == State.WARNING
    assert expiry_check("x", days(6.5), NOW, H).state == State.CRITICAL
    assert expiry_check("x", days(-1), NOW, H).value == "expired 1.0 days ago"


def test_unknown_expiry_date_is_reported_unknown_not_ok() -> None:
    assert expiry_check("scim.token.expiry", None, NOW, H).state == State.UNKNOWN


def test_exit_code_is_2_for_critical_1_for_warning_or_unknown_0_otherwise() -> None:
    def run(*states: State) -> int:
        return exit_code([Check(str(i), s, "") for i, s in enumerate(states)])

    assert run(State.OK, State.SKIPPED) == 0
    assert run(State.OK, State.UNKNOWN) == 1
    assert run(State.WARNING, State.OK) == 1
    assert run(State.WARNING, State.CRITICAL) == 2


def test_an_expired_leftover_secret_is_ignored_when_a_valid_one_exists() -> None:
    found = [
        Credential("secret", "old", "k1", days(-40)),
        Credential("secret", "new", "k2", days(300)),
        Credential("certificate", "cert", "k3", days(20)),
    ]
    secret, cert = credentials_checks(found, NOW, H)
    assert secret.state == State.OK and "1 expired, ignored" in secret.detail
    assert cert.state == State.WARNING


def test_every_secret_expired_is_critical() -> None:
    secret, _ = credentials_checks([Credential("secret", "s", "k", days(-2))], NOW, H)
    assert secret.state == State.CRITICAL


def test_refused_graph_read_names_the_missing_permission() -> None:
    rows = credentials_checks(Unreadable("HTTP 403", "Application.Read.All"), NOW, H)
    assert {r.state for r in rows} == {State.UNKNOWN}
    assert all("Application.Read.All" in r.detail for r in rows)


def test_quarantined_provisioning_job_is_critical_and_a_stale_one_warns() -> None:
    quarantined = SyncJob("j", "Quarantine", NOW, NOW, 3, "CredentialsInvalid")
    assert job_check(quarantined, NOW, H).state == State.CRITICAL
    stale = SyncJob("j", "Active", NOW - timedelta(hours=3), NOW, 0, None)
    assert job_check(stale, NOW, H).state == State.WARNING
    fresh = SyncJob("j", "Active", NOW - timedelta(minutes=30), NOW, 0, None)
    assert job_check(fresh, NOW, H).state == State.OK


def test_documented_job_example_reads_never_as_no_success_and_quarantine_reason() -> None:
    job = parse_job(body("sync-job-get.json"))
    assert job is not None
    assert job.code == "Paused" and job.last_success is None
    assert job.quarantine == "SalesforceInvalidCredentials"
    assert job_check(job, NOW, H).state == State.WARNING  # paused, never succeeded


def test_lag_without_readable_logs_is_unknown_never_a_number() -> None:
    empty = LagStats("removal", 0, None, None, None, 0, 2)
    check = lag_check(empty, Unreadable("HTTP 403", "AuditLog.Read.All"))
    assert check.state == State.UNKNOWN and "AuditLog.Read.All" in check.detail
    assert check.figures["p50_seconds"] is None


def test_saml_certificate_is_the_key_whose_thumbprint_is_preferred() -> None:
    cert = body("sp-addTokenSigningCertificate.json")
    sp = {
        "preferredTokenSigningKeyThumbprint": cert["thumbprint"],
        "keyCredentials": [
            {**cert, "customKeyIdentifier": "AAAA", "endDateTime": "2030-01-01T00:00:00Z"},
            cert,
        ],
    }
    found = saml_signing_certificate(sp)
    assert found is not None and found.end == datetime(2024, 1, 25, tzinfo=UTC)
    assert saml_check(found, NOW, H).state == State.CRITICAL  # it ended in 2024


def test_password_credentials_example_gives_its_end_date() -> None:
    found = parse_credentials({"passwordCredentials": [body("app-addPassword.json")]})
    assert [c.end.year for c in found] == [2021]


def test_documented_provisioning_examples_are_not_membership_exports() -> None:
    # The success example is a role import, the failure example a failed group creation.
    for name in ("provisioning-logs-list-success.json", "provisioning-logs-list-failure.json"):
        assert all(parse_export(item) is None for item in body(name)["value"])


def test_malformed_provisioning_entry_is_flagged_not_raised() -> None:
    assert parse_export({"id": "x"}) is False
    assert parse_export("nonsense") is False


def test_membership_export_reads_members_property_for_add_and_remove() -> None:
    entry = {
        "activityDateTime": "2026-11-24T12:00:05Z",
        "sourceIdentity": {"id": "g1", "identityType": "Group"},
        "provisioningStatusInfo": {"status": "success"},
        "modifiedProperties": [{"displayName": "members", "oldValue": None, "newValue": '["u1"]'}],
    }
    added = parse_export(entry)
    assert added and added.op == "add" and added.principal_id == "u1"
    entry["modifiedProperties"] = [{"displayName": "members", "oldValue": '["u1"]'}]
    removed = parse_export(entry)
    assert removed and removed.op == "remove"


def test_percentiles_are_measured_values_never_interpolated() -> None:
    values = [1.0, 2.0, 3.0, 10.0]
    assert percentile(values, 50) == 2.0
    assert percentile(values, 95) == 10.0
    assert percentile([], 50) is None


def test_emf_line_carries_cycle_figures_for_cloudwatch() -> None:
    out = io.StringIO()
    metrics = BridgeMetrics(emf=True, emf_out=out)
    change = Change("add", Binding.of("u1", "group:g1"), Reason.ACTIVATED)
    metrics.observe_cycle(CycleResult("poll", Plan((change,)), applied=[change]), 3, [])
    line = json.loads(out.getvalue())
    declared = line["_aws"]["CloudWatchMetrics"][0]
    assert declared["Namespace"] == "PimBridge"
    assert {"Name": "LiveGrants", "Unit": "Count"} in declared["Metrics"]
    assert line["LiveGrants"] == 3 and line["ChangesApplied"] == 1
    assert line["CycleKind"] == "poll"


def test_emf_is_silent_unless_switched_on() -> None:
    out = io.StringIO()
    metrics = BridgeMetrics(emf_out=out)
    metrics.observe_cycle(CycleResult("poll", Plan()), 0, [])
    assert out.getvalue() == ""


def test_a_credential_end_utc_cannot_hold_is_skipped_as_unreadable() -> None:
    app = {
        "passwordCredentials": [
            {"displayName": "far", "keyId": "k1", "endDateTime": "9999-12-31T23:30:00-01:00"},
            {"displayName": "soon", "keyId": "k2", "endDateTime": "2030-01-01T01:00:00+01:00"},
        ]
    }
    (only,) = parse_credentials(app)
    assert only.name == "soon" and only.end == datetime(2030, 1, 1, tzinfo=UTC)
