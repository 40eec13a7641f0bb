"""The audit report of a ledger built through real sync and expiry cycles: the Graph sandbox over
HTTP and moto's server, on one hand-moved clock, with faults seeded where an auditor must see
them (a failed revocation, drift, an unknown user, the safety brake, a denial not written)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import bridge
from bridge.config import config_from_dict
from bridge.report import Names, ReportQuery, write_report
from bridge.report.columns import NAMES
from bridge.report.contract import SCHEMA
from bridge.sandbox.world import ACCOUNT_PROD, World, running_world
from bridge.store import Ledger
from bridge.wiring import build
from tests.fakes import FakeClock

pytestmark = pytest.mark.integration
MIN = timedelta(minutes=1)


@dataclass
class Built:
    world: World
    config_path: Path
    store_url: str
    config_data: dict[str, Any]
    t0: datetime
    end: datetime  # the clock when the story ended: the report's "now"

    def report(self, fmt: str, with_config: bool = True, **filters: Any) -> str:
        out = io.StringIO(newline="")
        ledger = Ledger(self.store_url)
        try:
            names = Names.from_config(
                config_from_dict(self.config_data, {}) if with_config else None
            )
            write_report(ledger, ReportQuery(now=self.end, **filters), fmt, out, names)
        finally:
            ledger.close()
        return out.getvalue()

    def rows(self, **filters: Any) -> list[dict[str, Any]]:
        return json.loads(self.report("json", **filters))["rows"]


def _story(w: World, clock: FakeClock, tmp: Path) -> Built:
    t0 = clock.now()
    store = f"sqlite:///{tmp / 'ledger.db'}"
    data = w.config_dict(store)
    braked = {**data, "safety": {"max_removals_per_cycle": 1}}
    bridge = build(config_from_dict(data, {}), clock=clock)
    actor = w.graph.actor()
    user, group = w.entra_users, w.entra_groups
    try:
        actor.activate(user["alice"], group["prod-admin"], 60 * MIN, "INC-4711 hotfix", "INC-4711")
        actor.activate(user["carol"], group["prod-admin"], 20 * MIN, "deploy", "CHG-12")
        actor.activate(user["carol"], group["breakglass"], 60 * MIN, "break-glass drill")
        actor.activate(user["bob"], group["prod-admin"], 10 * MIN, "quick look")
        actor.activate(user["erin"], group["prod-admin"], 30 * MIN, "on call")
        actor.activate(user["dave"], group["prod-admin"], 60 * MIN, "not in Identity Center")
        clock.advance(2)
        assert bridge.reconciler.cycle(kind="sync", read_aws=True).exit_code == 0

        # Someone adds frank to the mirrored group by hand: drift, reported (drift = "report").
        w.aws.add_member(w.ic_group_id, w.ic_users["frank"])
        clock.set(t0 + 5 * MIN)
        actor.deactivate(user["erin"], group["prod-admin"])
        clock.advance(3)
        bridge.reconciler.cycle(kind="drift", read_aws=True)

        # Bob's expiry: the assignment deletion fails once, the retry a minute later succeeds.
        w.aws.fail_next_assignment(ACCOUNT_PROD, w.permission_set_arn, deletion=True)
        clock.set(t0 + 10 * MIN + timedelta(seconds=1))
        assert bridge.reconciler.expire().failed
        clock.advance(60)
        assert not bridge.reconciler.expire().failed

        # Carol's prod-admin expiry: revoked on time, but the session denial cannot be written.
        w.aws.fail_next_provisioning(ACCOUNT_PROD, w.permission_set_arn)
        clock.set(t0 + 20 * MIN)
        bridge.reconciler.expire()

        # Alice and carol deactivate together; a brake of one removal holds them back for a
        # cycle, so alice keeps access 30 s past her end.
        clock.set(t0 + 25 * MIN)
        actor.deactivate(user["alice"], group["prod-admin"])
        actor.deactivate(user["carol"], group["breakglass"])
        with_brake = build(config_from_dict(braked, {}), clock=clock)
        try:
            with_brake.reconciler.cycle(kind="sync")
        finally:
            with_brake.close()
        clock.advance(30)
        bridge.reconciler.cycle(kind="sync")
    finally:
        bridge.close()
        actor.close()
    config_path = w.write_config(tmp / "pim-bridge.toml", store)
    return Built(w, config_path, store, data, t0, clock.now() + MIN)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    tmp = tmp_path_factory.mktemp("report")
    # Graph and the bridge share one clock moved by hand: a 25-minute story runs in seconds.
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    with running_world(graph_clock=clock) as world, pytest.MonkeyPatch.context() as mp:
        for k, v in world.env().items():
            mp.setenv(k, v)
        yield _story(world, clock, tmp)


def _by(rows: list[dict[str, Any]], user: str, kind: str, mapping: str = "prod-admin") -> dict:
    hits = [
        r
        for r in rows
        if r["user"] == f"{user}@example.com"
        and r["target_kind"] == kind
        and r["mapping"] == mapping
    ]
    assert len(hits) == 1, hits
    return hits[0]


def test_every_grant_is_one_row_with_its_chain_of_events(built: Built) -> None:
    rows = built.rows()
    # alice, carol x2 mappings, bob, erin; a group and an assignment each for prod-admin.
    assert len(rows) == 9
    alice = _by(rows, "alice", "assignment")
    assert alice["justification"] == "INC-4711 hotfix" and alice["ticket"] == "INC-4711"
    assert alice["entra_group_id"] == built.world.entra_groups["prod-admin"]
    assert alice["target"] == f"{built.world.permission_set_name} @ {ACCOUNT_PROD}"
    assert alice["end_reason"] == "deactivated"
    for r in rows:
        assert r["provisioned_at"] is not None and r["activation_to_access_s"] >= 0
        assert r["scim_lag_s"] is None  # no lag samples in this ledger: unknown, not zero
    erin = _by(rows, "erin", "group")
    assert erin["end_reason"] == "deactivated" and erin["revoked_at"] is not None
    assert erin["anomalies"] == []


def test_overlapping_grant_shows_access_kept_by_the_other_mapping(built: Built) -> None:
    carol = _by(built.rows(), "carol", "group")
    assert carol["end_reason"] == "expired"
    assert carol["revoked_at"] is None
    assert carol["continued_by"].startswith("breakglass")
    assert carol["anomalies"] == []


def test_failed_then_retried_revocation_is_an_anomaly_with_the_real_revocation_time(
    built: Built,
) -> None:
    bob = _by(built.rows(), "bob", "assignment")
    assert bob["revoke_failures"] == 1
    assert bob["end_to_revoked_s"] == pytest.approx(61, abs=1)
    assert set(bob["anomalies"]) == {"outlived_end", "revocation_failed"}
    assert _by(built.rows(), "bob", "group")["anomalies"] == []


def test_ledger_anomalies_come_first_in_the_json_and_are_counted(built: Built) -> None:
    doc = json.loads(built.report("json"))
    kinds = {a["kind"] for a in doc["anomalies"]}
    assert {
        "outlived_end",
        "revocation_failed",
        "drift",
        "unresolved_user",
        "safety_brake",
        "denial_not_written",
    } <= kinds
    assert doc["summary"]["anomalies"]["total"] == len(doc["anomalies"])
    unresolved = [a for a in doc["anomalies"] if a["kind"] == "unresolved_user"]
    # Repeated every cycle, listed once with a count.
    assert len(unresolved) == 1 and unresolved[0]["count"] > 1
    assert "dave@example.com" in unresolved[0]["detail"]
    drift = next(a for a in doc["anomalies"] if a["kind"] == "drift")
    assert built.world.ic_users["frank"] in drift["detail"] and "not removed" in drift["detail"]
    severities = [a["severity"] for a in doc["anomalies"]]
    assert severities == sorted(severities, key=["critical", "warning", "info"].index)
    alice = next(
        a for a in doc["anomalies"] if a["kind"] == "outlived_end" and a["user"].startswith("alice")
    )
    assert "30.0s past its end" in alice["detail"]


def test_json_validates_against_its_published_schema(built: Built) -> None:
    doc = json.loads(built.report("json"))
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(doc, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert doc["schema_version"].startswith("1.")


def test_csv_parses_with_one_header_and_utc_times(built: Built) -> None:
    text = built.report("csv")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(rows[0]) == NAMES
    assert len(rows) == 1 + 9
    assert all(len(r) == len(NAMES) for r in rows)
    col = NAMES.index("activated_at")
    for r in rows[1:]:
        assert datetime.strptime(r[col], "%Y-%m-%dT%H:%M:%SZ")
    lag = NAMES.index("scim_lag_s")
    assert {r[lag] for r in rows[1:]} == {"unknown"}


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.ids: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        d = dict(attrs)
        if d.get("id"):
            self.ids.append(d["id"] or "")
        for key in ("src", "href"):
            if tag in ("script", "img", "link", "iframe") and d.get(key):
                self.links.append(d[key] or "")


def test_html_is_one_file_with_embedded_plots_and_anomalies_before_grants(built: Built) -> None:
    pytest.importorskip("matplotlib")
    html = built.report("html")
    p = _Html()
    p.feed(html)
    p.close()
    assert p.tags.count("svg") >= 4  # two histograms, one timeline per mapping
    assert p.links == [] and "script" not in p.tags
    assert p.ids.index("anomalies") < p.ids.index("grants")
    # Nothing to fetch: no remote source, link or CSS url anywhere.
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?https?:|url\(\s*[\"']?https?:", html)


def test_markdown_lists_anomalies_then_a_row_per_grant(built: Built) -> None:
    md = built.report("md")
    assert md.index("## Anomalies") < md.index("## Grants (9)")
    grant_lines = md.split("## Grants (9)", 1)[1].strip().splitlines()
    assert len(grant_lines) == 2 + 9


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"users": ("bob",)}, {("bob", "group"), ("bob", "assignment")}),
        ({"mappings": ("breakglass",)}, {("carol", "group")}),
        (
            {"accounts": (ACCOUNT_PROD,), "users": ("carol@example.com",)},
            {("carol", "assignment")},
        ),
    ],
)
def test_filters_select_the_right_rows(
    built: Built, filters: dict[str, Any], expected: set[tuple[str, str]]
) -> None:
    rows = built.rows(**filters)
    assert {(r["user"].split("@")[0], r["target_kind"]) for r in rows} == expected


def test_group_filter_takes_the_entra_group_or_the_identity_center_group(built: Built) -> None:
    by_entra = built.rows(groups=(built.world.entra_groups["breakglass"],))
    assert {r["mapping"] for r in by_entra} == {"breakglass"}
    by_ic = built.rows(groups=(built.world.ic_group_name,))
    assert {r["target_kind"] for r in by_ic} == {"group"} and len(by_ic) == 5


def test_time_window_keeps_grants_overlapping_it(built: Built) -> None:
    # From minute 21 on, only grants still live then: alice (both targets) and carol's breakglass.
    rows = built.rows(since=built.t0 + 21 * MIN)
    assert {(r["user"].split("@")[0], r["mapping"]) for r in rows} == {
        ("alice", "prod-admin"),
        ("carol", "breakglass"),
    }


def test_report_works_from_the_ledger_alone(built: Built) -> None:
    rows = json.loads(built.report("json", with_config=False))["rows"]
    assert len(rows) == 9
    assert {r["entra_group_id"] for r in rows} == {None}
    assert all(r["mapping"] for r in rows)


def test_cli_writes_each_format_from_the_config(built: Built, tmp_path: Path) -> None:
    env = {**os.environ, **built.world.env()}
    for fmt in ("json", "csv", "md", "html"):
        out = tmp_path / f"report.{fmt}"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "bridge",
                "report",
                "-c",
                str(built.config_path),
                "-o",
                str(out),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert "9 grants" in proc.stdout and out.stat().st_size > 0
    doc = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    jsonschema.validate(doc, SCHEMA)
    table = subprocess.run(
        [sys.executable, "-m", "bridge", "report", "--store", built.store_url, "--user", "bob"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert table.returncode == 0, table.stderr
    assert "bob@example.com" in table.stdout and "alice@example.com" not in table.stdout
    assert "revocation_failed" in table.stdout


def test_cli_rejects_a_window_it_cannot_read(built: Built) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bridge", "report", "--store", built.store_url, "--since", "soon"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "not a date or duration: 'soon'" in proc.stderr


def test_deactivation_latency_counts_from_pims_request_not_from_when_the_bridge_saw_it(
    built: Built,
) -> None:
    erin = _by(built.rows(), "erin", "group")
    asked = built.t0 + 5 * MIN  # erin's selfDeactivate; the bridge read Graph 3 s later
    assert erin["end_requested_at"] == asked.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert erin["ended_at"] == (asked + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert erin["end_to_revoked_s"] == pytest.approx(3, abs=0.5)


def test_unresolved_user_is_named_in_the_anomaly_user_column(built: Built) -> None:
    doc = json.loads(built.report("json"))
    (dave,) = [a for a in doc["anomalies"] if a["kind"] == "unresolved_user"]
    assert dave["user"] == "dave@example.com"
    assert "| dave@example.com |" in built.report("md")


def test_terminal_table_is_readable_at_100_columns(built: Built) -> None:
    out = io.StringIO(newline="")
    ledger = Ledger(built.store_url)
    try:
        names = Names.from_config(config_from_dict(built.config_data, {}))
        write_report(ledger, ReportQuery(now=built.end), "table", out, names, width=100)
    finally:
        ledger.close()
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 100
    grants = text.split("Grants (9)", 1)[1]
    for who in ("alice", "bob", "carol", "erin"):
        assert f"{who}@example.com" in grants  # whole, not folded mid-name
    assert "for 4 users" in text and "revocation_failed" in grants


def test_anomaly_tables_say_which_target_the_anomaly_is_on(built: Built) -> None:
    md = built.report("md")
    anomalies = md.split("## Anomalies", 1)[1].split("## Grants", 1)[0]
    header = next(line for line in anomalies.splitlines() if line.startswith("| severity"))
    assert "| target |" in header
    bob = next(line for line in anomalies.splitlines() if "revocation\\_failed" in line)
    assert f"{built.world.permission_set_name} @ {ACCOUNT_PROD}" in bob


def test_timelines_mark_each_anomaly_at_its_time_on_its_lane(built: Built) -> None:
    pytest.importorskip("matplotlib")
    page = built.report("html")
    kinds = re.findall(r'<line [^>]*class="anomaly" data-kind="([a-z_]+)"', page)
    assert {"outlived_end", "revocation_failed"} <= set(kinds)
    # bob's assignment outlived its end by 61 s: a red stretch from the end to the removal.
    assert re.search(r'<rect [^>]*fill-opacity="0.35"><title>outlived_end at ', page)


def test_histogram_axes_start_at_zero(built: Built) -> None:
    pytest.importorskip("matplotlib")
    page = built.report("html")
    # matplotlib writes tick labels as text: the first of each time axis is 0.
    figures = re.findall(r"<figure>(<svg.*?</svg>)\s*</figure>", page, re.S)
    histograms = [f for f in figures if "grants over time" not in f]
    assert len(histograms) >= 2
    for svg in histograms:
        first = re.search(r'text-anchor: middle"[^>]*>([-0-9.]+)</text>', svg)
        assert first is not None and float(first.group(1)) == 0


def test_every_format_carries_its_provenance(built: Built, tmp_path: Path) -> None:
    config_sha = hashlib.sha256(built.config_path.read_bytes()).hexdigest()
    doc = json.loads(_cli_report(built, tmp_path / "r.json"))
    block = doc["provenance"]
    assert block["config_file"] == "pim-bridge.toml" and block["config_sha256"] == config_sha
    assert block["tenant"] is None  # the sandbox's config names no tenant
    assert block["bridge_version"] == bridge.__version__
    assert block["filters"]["users"] == [] and block["rows"] == 9
    lines = "".join(
        json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
        for r in doc["rows"]
    )
    assert block["rows_sha256"] == hashlib.sha256(lines.encode()).hexdigest()

    csv_text = _cli_report(built, tmp_path / "r.csv")
    sidecar = json.loads((tmp_path / "r.csv.provenance.json").read_text(encoding="utf-8"))
    data_lines = csv_text.split("\r\n", 1)[1]
    digest = hashlib.sha256(data_lines.encode()).hexdigest()
    assert sidecar["provenance"]["rows_sha256"] == digest
    assert sidecar["provenance"]["config_sha256"] == config_sha
    for suffix in ("md", "html"):
        assert config_sha in _cli_report(built, tmp_path / f"r.{suffix}")
    table = built.report("table")
    assert "Provenance" in table and "rows sha256" in table


def _cli_report(built: Built, out: Path) -> str:
    env = {**os.environ, **built.world.env()}
    proc = subprocess.run(
        [sys.executable, "-m", "bridge", "report", "-c", str(built.config_path), "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return out.read_bytes().decode("utf-8")  # as written: CSV's \r\n line ends kept


def test_drift_anomaly_names_the_user_the_target_and_the_mapping(built: Built) -> None:
    doc = json.loads(built.report("json"))
    drift = next(a for a in doc["anomalies"] if a["kind"] == "drift")
    assert drift["user"] == "frank@example.com"
    assert drift["target"] == "AWS-Prod-Admin"
    assert drift["mapping"] in ("prod-admin", "breakglass")  # both name that group
    assert drift["detail"].startswith("frank@example.com (")
    assert "on AWS-Prod-Admin has no PIM basis" in drift["detail"]
    assert "not removed: drift = report" in drift["detail"]


def _report_cli(built: Built, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge", "report", "--store", built.store_url, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("args", [("--mapping", "nope"), ("--user", "nobody")])
def test_report_filters_that_match_no_grant_say_so_and_exit_1(
    built: Built, args: tuple[str, str]
) -> None:
    proc = _report_cli(built, *args)
    assert proc.returncode == 1, proc.stderr
    assert f"pim-bridge report: no grant matches {' '.join(args)}" in proc.stderr


def test_report_since_after_until_is_a_usage_error(built: Built) -> None:
    proc = _report_cli(built, "--since", "1d", "--until", "7d")
    assert proc.returncode == 2
    assert "--since 1d is after --until 7d" in proc.stderr


def test_report_refuses_an_output_extension_no_format_has(built: Built, tmp_path: Path) -> None:
    out = tmp_path / "report.pdf"
    proc = _report_cli(built, "-o", str(out))
    assert proc.returncode == 2
    assert "--format (table, csv, json, md, html)" in proc.stderr
    assert not out.exists()
