"""Edge cases of the report built on small ledgers written through the ledger's own API (the
integration tests build theirs through real sync cycles)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from bridge.model import (
    Binding,
    Change,
    Ended,
    Grant,
    GrantVerdicts,
    GroupMembership,
    Reason,
    User,
)
from bridge.report import ReportQuery, write_report
from bridge.report import plots as plots_module
from bridge.report.anomalies import SEVERITY
from bridge.report.columns import NAMES
from bridge.report.query import parse_when
from bridge.schema import lag_samples
from bridge.store import Ledger

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
GROUP = GroupMembership("g-1")


def _grant(who: str, end: datetime, justification: str = "work") -> Grant:
    user = User(f"p-{who}", f"{who}@x", f"ic-{who}")
    return Grant(user, GROUP, T0, end, f"i-{who}", "m", justification, "T-1", "boss@x")


def _provision(ledger: Ledger, g: Grant, at: datetime) -> None:
    change = Change("add", Binding(g.user.ic_user_id, GROUP), Reason.ACTIVATED, "m", g.user.name)
    ledger.record_outcome(ledger.record_intent(None, change, at), change, at)


@pytest.fixture
def ledger() -> Ledger:
    return Ledger("sqlite://")


def _report(ledger: Ledger, fmt: str, now: datetime) -> str:
    out = io.StringIO(newline="")
    write_report(ledger, ReportQuery(now=now), fmt, out)
    return out.getvalue()


def test_grant_still_held_after_its_end_is_flagged_as_outliving_it(ledger: Ledger) -> None:
    g = _grant("alice", T0 + timedelta(minutes=10))
    ledger.record_verdicts(GrantVerdicts(new=tuple([g])), T0)
    _provision(ledger, g, T0 + timedelta(seconds=2))
    ledger.record_verdicts(  # the removal never happened
        GrantVerdicts(ended=(Ended(g, Reason.EXPIRED, T0 + timedelta(minutes=10)),)),
        T0 + timedelta(minutes=10),
    )
    doc = json.loads(_report(ledger, "json", T0 + timedelta(minutes=11)))
    (row,) = doc["rows"]
    assert row["still_held"] is True and row["revoked_at"] is None
    assert row["anomalies"] == ["outlived_end"]
    (anomaly,) = doc["anomalies"]
    assert anomaly["detail"] == "still held 60s after its end (expired)"
    assert doc["summary"]["still_held_after_end"] == 1


def test_scim_lag_is_unknown_without_a_sample_and_read_once_exported(ledger: Ledger) -> None:
    for who in ("alice", "bob"):
        g = _grant(who, T0 + timedelta(hours=1))
        ledger.record_verdicts(GrantVerdicts(new=tuple([g])), T0)
        _provision(ledger, g, T0 + timedelta(seconds=2))
    with ledger.engine.begin() as conn:
        conn.execute(
            insert(lag_samples).values(
                mapping="m",
                source_instance_id="i-alice",
                kind="activation",
                principal_id="p-alice",
                user_name="alice@x",
                entra_group_id="eg",
                pim_at=T0,
                bridge_at=T0 + timedelta(seconds=2),
                scim_at=T0 + timedelta(minutes=6),
                scim_state="exported",
                recorded_at=T0 + timedelta(minutes=7),
            )
        )
    text = _report(ledger, "csv", T0 + timedelta(minutes=10))
    rows = {r["user"]: r for r in csv.DictReader(io.StringIO(text, newline=""))}
    assert rows["alice@x"]["scim_lag_s"] == "360.0"
    assert rows["bob@x"]["scim_lag_s"] == "unknown"


def test_csv_quotes_text_a_spreadsheet_would_run_as_a_formula(ledger: Ledger) -> None:
    g = _grant("mallory", T0 + timedelta(hours=1), justification='=HYPERLINK("x","click")')
    ledger.record_verdicts(GrantVerdicts(new=tuple([g])), T0)
    text = _report(ledger, "csv", T0 + timedelta(minutes=1))
    (row,) = list(csv.DictReader(io.StringIO(text, newline="")))
    assert row["justification"] == '\'=HYPERLINK("x","click")'
    assert row["provisioned_at"] == "" and row["activated_at"] == "2026-11-24T12:00:00Z"


def test_html_without_matplotlib_says_how_to_get_the_histograms(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plots_module, "available", lambda: False)
    ledger.record_verdicts(GrantVerdicts(new=tuple([_grant("alice", T0 + timedelta(hours=1))])), T0)
    html = _report(ledger, "html", T0 + timedelta(minutes=1))
    assert plots_module.INSTALL_HINT.replace("'", "&#x27;") in html
    # The timeline needs no matplotlib: the one mapping's is still there, the histograms not.
    assert html.count("<svg") == 1 and 'id="timelines"' in html


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", T0 - timedelta(days=7)),
        ("30m", T0 - timedelta(minutes=30)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T08:30:00Z", datetime(2026, 11, 1, 8, 30, tzinfo=UTC)),
        ("2026-11-01T08:30:00+02:00", datetime(2026, 11, 1, 6, 30, tzinfo=UTC)),
    ],
)
def test_since_and_until_take_durations_and_iso_dates(text: str, expected: datetime) -> None:
    assert parse_when(text, T0) == expected


@pytest.mark.parametrize("text", ["soon", "2026-13-01", "7 days"])
def test_an_unreadable_time_is_refused_with_examples(text: str) -> None:
    with pytest.raises(ValueError, match=r"use e\.g\. 7d"):
        parse_when(text, T0)


def test_docs_describe_every_column_and_anomaly_kind() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "report.md").read_text(encoding="utf-8")
    missing = [n for n in (*NAMES, *SEVERITY) if f"`{n}`" not in doc]
    assert missing == []


def test_long_table_switches_to_aligned_lines_with_every_grant(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bridge.report import to_table

    monkeypatch.setattr(to_table, "RICH_ROWS", 2)
    whos = ("alice", "bob", "carol")
    ledger.record_verdicts(
        GrantVerdicts(new=tuple([_grant(w, T0 + timedelta(hours=1)) for w in whos])), T0
    )
    text = _report(ledger, "table", T0 + timedelta(minutes=1))
    grants = text.split("Grants (3)", 1)[1].strip().splitlines()
    assert grants[0].split()[:3] == ["user", "mapping", "target"]
    assert [line.split()[0] for line in grants[1:]] == [f"{w}@x" for w in whos]


def test_summary_counts_one_user_in_the_singular(ledger: Ledger) -> None:
    ledger.record_verdicts(GrantVerdicts(new=(_grant("alice", T0 + timedelta(hours=1)),)), T0)
    md = _report(ledger, "md", T0 + timedelta(minutes=1))
    assert "for 1 user\n" in md and "1 users" not in md


def test_provenance_names_the_tenant_and_the_config_it_was_made_with(
    ledger: Ledger, tmp_path: Path
) -> None:
    from bridge.config import load_config
    from bridge.report import Source

    path = tmp_path / "prod.toml"
    path.write_bytes((Path(__file__).parents[2] / "config.example.toml").read_bytes())
    config = load_config(path, environ={"PIM_BRIDGE_CLIENT_SECRET": "x"})
    out = io.StringIO(newline="")
    write_report(ledger, ReportQuery(now=T0), "json", out, source=Source.of(config, path))
    block = json.loads(out.getvalue())["provenance"]
    assert block["tenant"] == config.entra.tenant_id != ""
    assert block["config_file"] == "prod.toml"
    assert block["config_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert block["rows"] == 0 and block["rows_sha256"] == hashlib.sha256(b"").hexdigest()


def test_published_schema_file_is_the_schema_reports_are_validated_against() -> None:
    import jsonschema

    from bridge.report.contract import SCHEMA

    path = Path(__file__).parents[2] / "docs" / "report.schema.json"
    published = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(published)
    assert published == SCHEMA, "regenerate docs/report.schema.json from bridge/report/contract.py"
