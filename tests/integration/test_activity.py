"""Evidence of use over real HTTP: the bridge grants and revokes through real cycles against the
Graph sandbox and moto's server, the sandbox's sessions call AWS and their calls go, as
CloudTrail records, into an organization trail's bucket in moto's S3; `pim-bridge report
--activity` then reads that bucket in a separate process, on one hand-moved clock set in the
past so every log file has long been delivered."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bridge.config import config_from_dict
from bridge.report.contract import SCHEMA
from bridge.sandbox.aws.trail import SandboxTrail
from bridge.sandbox.world import ACCOUNT_PROD, World, running_world
from bridge.wiring import build
from tests.fakes import FakeClock

pytestmark = pytest.mark.integration
MIN = timedelta(minutes=1)
SEC = timedelta(seconds=1)


@dataclass
class Story:
    world: World
    trail: SandboxTrail
    config_path: Path
    tmp: Path
    corrupt_key: str

    def report(
        self, *extra: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bridge", "report", "-c", str(self.config_path), *extra],
            capture_output=True,
            text=True,
            env={**os.environ, **self.world.env(), **(env or {})},
            timeout=120,
        )


def _calls(w: World, clock: FakeClock, who: str, at: list[timedelta]) -> str:
    """A session signed in now by `who`, calling at each offset from now; returns it."""
    session = w.aws.issue_session(w.ic_users[who], w.permission_set_arn, ACCOUNT_PROD, clock.now())
    start = clock.now()
    for offset in at:
        w.aws.is_allowed(session, "s3:ListBuckets", now=start + offset)
    return session


def _story(w: World, clock: FakeClock, tmp: Path) -> Story:
    assert w.aws.trail is not None
    store = f"sqlite:///{tmp / 'ledger.db'}"
    bridge = build(config_from_dict(w.config_dict(store), {}), clock=clock)
    actor = w.graph.actor()
    user, group = w.entra_users, w.entra_groups
    t0 = clock.now()
    try:
        actor.activate(user["alice"], group["prod-admin"], 10 * MIN, "INC-1 hotfix")
        actor.activate(user["bob"], group["prod-admin"], 10 * MIN, "just in case")
        actor.activate(user["erin"], group["prod-admin"], 20 * MIN, "on call")
        clock.advance(2)
        assert bridge.reconciler.cycle(kind="sync", read_aws=True).exit_code == 0
        clock.advance(60)
        # alice works, and her session is still calling after her end; bob never signs in.
        alice = _calls(w, clock, "alice", [MIN, 2 * MIN])
        erin = _calls(w, clock, "erin", [MIN])
        clock.set(t0 + 10 * MIN + timedelta(seconds=2))
        bridge.reconciler.expire()
        assert not w.aws.is_allowed(alice, "s3:ListBuckets", now=clock.now() + 30 * SEC)
        # erin's session lives on past her end: her denial cannot be provisioned.
        w.aws.fail_next_provisioning(ACCOUNT_PROD, w.permission_set_arn)
        clock.set(t0 + 20 * MIN + timedelta(seconds=2))
        bridge.reconciler.expire()
        assert w.aws.is_allowed(erin, "ec2:DescribeInstances", now=clock.now() + 30 * SEC)
    finally:
        bridge.close()
        actor.close()
    w.aws.trail.flush()
    # A log file cut off in transit, delivered in alice's window.
    corrupt = w.aws.trail.key(ACCOUNT_PROD, t0 + 5 * MIN)
    whole = gzip.compress(json.dumps({"Records": [{"eventTime": "x"}] * 200}).encode())
    w.aws.client("s3").put_object(Bucket=w.aws.trail.bucket, Key=corrupt, Body=whole[:-30])
    return Story(w, w.aws.trail, w.write_config(tmp / "pim-bridge.toml", store), tmp, corrupt)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    tmp = tmp_path_factory.mktemp("activity")
    # Two hours ago: the report's reading takes files delivered up to two minutes ago as final.
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2))
    with running_world(graph_clock=clock, trail=True) as world, pytest.MonkeyPatch.context() as mp:
        for k, v in world.env().items():
            mp.setenv(k, v)
        yield _story(world, clock, tmp)


@pytest.fixture(scope="module")
def digested(story: Story) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = story.tmp / "report.json"
    proc = story.report("--activity", "-o", str(out))
    return proc, json.loads(out.read_text(encoding="utf-8"))


def _row(doc: dict[str, Any], who: str, kind: str = "assignment") -> dict[str, Any]:
    (row,) = [r for r in doc["rows"] if r["user"].startswith(who) and r["target_kind"] == kind]
    return row


def _anomalies(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [a for a in doc["anomalies"] if a["kind"] == kind]


def test_report_with_activity_reads_the_trail_and_says_what_it_read(digested: Any) -> None:
    proc, doc = digested
    assert proc.returncode == 0, proc.stderr
    assert "activity: " in proc.stderr and "log files read" in proc.stderr
    jsonschema.validate(doc, SCHEMA, format_checker=jsonschema.FormatChecker())
    alice = _row(doc, "alice")["activity"]
    assert alice["calls"] == 3 and alice["services"] == ["s3.amazonaws.com"]
    assert alice["first_use"] is not None and alice["complete"] is True


def test_a_refused_call_after_the_end_is_shown_as_evidence_that_revocation_held(
    digested: Any,
) -> None:
    _, doc = digested
    alice = _row(doc, "alice")
    assert alice["activity"]["denied_after_end"] == 1 and alice["activity"]["used_after_end"] == 0
    (held,) = [a for a in _anomalies(doc, "denied_after_end") if a["user"].startswith("alice")]
    assert held["severity"] == "info" and "revocation held" in held["detail"]


def test_a_call_that_succeeded_after_the_end_is_critical(digested: Any) -> None:
    _, doc = digested
    (used,) = _anomalies(doc, "used_after_end")
    assert used["user"].startswith("erin") and used["severity"] == "critical"
    assert "ec2.amazonaws.com DescribeInstances" in used["detail"]
    assert doc["anomalies"][0]["severity"] == "critical"


def test_an_activation_nobody_used_is_an_unused_grant(digested: Any) -> None:
    _, doc = digested
    unused = {a["user"].split("@")[0] for a in _anomalies(doc, "unused_grant")}
    assert unused == {"bob"}


def test_a_truncated_log_file_is_skipped_named_and_counted(story: Story, digested: Any) -> None:
    proc, doc = digested
    summary = doc["summary"]["activity"]
    assert [s["key"] for s in summary["skipped"]] == [story.corrupt_key]
    assert story.corrupt_key in proc.stderr
    assert summary["unattributed"] == 0 and summary["attributed"] == summary["records"]


def test_a_second_report_reads_no_log_file_again(story: Story, digested: Any) -> None:
    again = story.report("--activity", "--format", "json")
    assert again.returncode == 0, again.stderr
    assert "0 log files read" in again.stderr
    assert _row(json.loads(again.stdout), "alice")["activity"]["calls"] == 3


def test_a_missing_bucket_is_one_line_exit_1_and_the_report_without_activity(
    story: Story, digested: Any
) -> None:
    out = story.tmp / "without.json"
    proc = story.report(
        "--activity",
        "-o",
        str(out),
        env={"PIM_BRIDGE_ACTIVITY__CLOUDTRAIL_BUCKET": "no-such-trail-bucket"},
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "NoSuchBucket" in lines[0] and "no-such-trail-bucket" in lines[0]
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert {r["activity"] is None for r in doc["rows"]} == {True}
    assert "activity" not in doc["summary"]


def test_activity_needs_the_config(story: Story) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bridge", "report", "--store", "sqlite://", "--activity"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "[activity] cloudtrail_bucket" in proc.stderr
