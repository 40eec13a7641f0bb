"""The report at its edges, on small ledgers written through the ledger's own API: what the data
holds is shown as data, never run as markup, and a failure that persists is one anomaly."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from bridge.model import AccountAssignment, Grant, GrantVerdicts, GroupMembership, Target, User
from bridge.report import ReportQuery, write_report
from bridge.store import Ledger

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PS = "arn:aws:sso:::permissionSet/ssoins-1/ps-admin"


@pytest.fixture
def ledger() -> Ledger:
    return Ledger("sqlite://")


GROUP = GroupMembership("g-1")


def _grant(name: str, target: Target = GROUP, why: str = "work") -> Grant:
    user = User(f"p-{name}", name, f"ic-{name}")
    return Grant(user, target, T0, T0 + timedelta(hours=1), f"i-{name}", "m", why, None, None)


def _record(ledger: Ledger, *grants: Grant) -> None:
    ledger.record_verdicts(GrantVerdicts(new=grants), T0)


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


HUMAN = ("table", "csv", "md", "html")
LATER = T0 + timedelta(minutes=1)


def test_rich_markup_in_a_user_name_is_printed_literally_in_the_table(ledger: Ledger) -> None:
    _record(ledger, _grant("ghost[/b]@example.com"), _grant("[bold red]boss[/]@example.com"))
    table = _report(ledger, "table", LATER)
    assert "ghost[/b]@example.com" in table and "[bold red]boss[/]@example.com" in table


def test_html_in_the_data_is_shown_as_text_in_markdown_and_html(ledger: Ledger) -> None:
    why = '<script>alert(1)</script><iframe src="https://evil.test"></iframe> [x](javascript:y)'
    _record(ledger, _grant("mallory@example.com", why=why))
    for fmt in ("md", "html"):
        text = _report(ledger, fmt, LATER)
        assert "<script" not in text and "<iframe" not in text, fmt
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text, fmt
    assert "\\[x\\](javascript:y)" in _report(ledger, "md", LATER)  # text, not a link


def test_escape_and_control_bytes_in_the_data_reach_no_output_raw(ledger: Ledger) -> None:
    why = "\x1b]0;owned\x07\x1b[2Jcleared \u202edesrever"
    _record(ledger, _grant("eve\x1b[8m@example.com", why=why))
    for fmt in HUMAN:
        text = _report(ledger, fmt, LATER)
        assert not any(ch in text for ch in "\x1b\x07\u202e"), fmt
        assert "\\x1b" in text, fmt  # spelled out, in the user's name at least
        if fmt != "table":  # the terminal table has no justification column
            assert "\\x07" in text and "\\u202e" in text, fmt


def test_like_wildcards_in_account_and_user_filters_match_only_themselves(
    ledger: Ledger,
) -> None:
    ps = "arn:aws:sso:::permissionSet/ssoins-1/ps-1"
    _record(
        ledger,
        _grant("alice@example.com", AccountAssignment("111111111111", ps)),
        _grant("bob@example.com", AccountAssignment("222222222222", ps)),
    )

    def users(**filters: object) -> list[str]:
        return [r["user"] for r in json.loads(_report(ledger, "json", LATER, **filters))["rows"]]

    assert users(accounts=("%",)) == [] and users(accounts=("1111_1111111",)) == []
    assert users(accounts=("111111111111",)) == ["alice@example.com"]
    assert users(users=("%",)) == [] and users(users=("_lice",)) == []
    assert users(users=("alice",)) == ["alice@example.com"]
