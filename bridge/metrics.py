"""Prometheus metrics of the running service (docs/metrics.md lists each with an alert rule),
and the same figures as CloudWatch embedded metric format (EMF) log lines when `service.emf`
is on, so operators in AWS get them from their logs without extra API calls.

Each Service owns its own registry, so several services in one process (tests) do not clash.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bridge.health import HealthReport, State
from bridge.model import Reason
from bridge.reconcile import CycleResult
from bridge.store import LagSample, Ledger

EMF_NAMESPACE = "PimBridge"
REVOCATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)
# Entra exports activations in minutes and removals in its ~40 minute cycle.
SCIM_LAG_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 2400, 3600, 7200)
_AWS_CODE = re.compile(r"\b([A-Z][A-Za-z]+(?:Exception|Error|Fault))\b")
_HTTP_STATUS = re.compile(r"HTTP (\d{3})")
_STATE_VALUE = {State.OK: 0, State.WARNING: 1, State.CRITICAL: 2, State.UNKNOWN: 1}


def aws_error_kind(error: str) -> str:
    m = _AWS_CODE.search(error)
    return m.group(1) if m else "other"


def graph_error_kind(detail: str) -> str:
    m = _HTTP_STATUS.search(detail)
    return f"http_{m.group(1)}" if m else "unreachable"


class BridgeMetrics:
    def __init__(
        self,
        *,
        emf: bool = False,
        emf_out: TextIO | None = None,
        last_ok: Callable[[], datetime | None] = lambda: None,
        now: Callable[[], datetime] | None = None,
        leader: Callable[[], bool] = lambda: True,
    ) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.live_grants = Gauge(
            "pim_bridge_live_grants", "Grants the ledger holds as live.", registry=r
        )
        self.changes = Counter(
            "pim_bridge_changes_applied_total",
            "Changes applied to Identity Center, by operation and reason.",
            ["op", "reason"],
            registry=r,
        )
        self.revocation_latency = Histogram(
            "pim_bridge_revocation_latency_seconds",
            "From a grant's PIM end to its removal taking effect in Identity Center.",
            buckets=REVOCATION_BUCKETS,
            registry=r,
        )
        self.scim_lag = Histogram(
            "pim_bridge_scim_lag_seconds",
            "From a PIM change to Entra's SCIM provisioning exporting it, by direction.",
            ["direction"],
            buckets=SCIM_LAG_BUCKETS,
            registry=r,
        )
        self.expiry_days = Gauge(
            "pim_bridge_expiry_days",
            "Days until a token or credential expires (negative once expired).",
            ["credential"],
            registry=r,
        )
        self.last_cycle_age = Gauge(
            "pim_bridge_last_cycle_age_seconds",
            "Seconds since the last successful reconcile cycle (-1 before the first).",
            registry=r,
        )
        self.errors = Counter(
            "pim_bridge_errors_total",
            "Errors talking to Graph or AWS, by system and kind.",
            ["system", "kind"],
            registry=r,
        )
        self.removals_held = Gauge(
            "pim_bridge_removals_held",
            "Removals the safety brake held back in the last cycle that read PIM.",
            registry=r,
        )
        self.denials_unplaced = Gauge(
            "pim_bridge_denials_unplaced",
            "Session denials not written (no room, or failed) in the last cycle that removed.",
            registry=r,
        )
        self.leader = Gauge(
            "pim_bridge_leader", "1 while this replica is the one applying changes.", registry=r
        )
        self.health_state = Gauge(
            "pim_bridge_health_check_state",
            "State of each health check: 0 ok, 1 warning or unknown, 2 critical.",
            ["check"],
            registry=r,
        )
        for op, reasons in (
            ("add", (Reason.ACTIVATED,)),
            ("remove", (Reason.EXPIRED, Reason.DEACTIVATED, Reason.ORPHANED, Reason.DRIFT)),
        ):
            for reason in reasons:
                self.changes.labels(op, str(reason))
        for direction in ("activation", "removal"):
            self.scim_lag.labels(direction)
        self._last_ok = last_ok
        self._now = now or (lambda: datetime.now(UTC))
        self.last_cycle_age.set_function(self._cycle_age)
        self.leader.set_function(lambda: 1.0 if leader() else 0.0)
        self._emf = emf
        self._emf_out = emf_out or sys.stdout
        self._emf_lock = threading.Lock()
        self._seen_samples: set[tuple[str, str, str]] = set()

    def _cycle_age(self) -> float:
        last = self._last_ok()
        return -1.0 if last is None else (self._now() - last).total_seconds()

    def scrape(self) -> bytes:
        return generate_latest(self.registry)

    # -- feeding -------------------------------------------------------------------------------

    def observe_cycle(
        self, result: CycleResult, live_grants: int, revocation_latencies: list[float]
    ) -> None:
        self.live_grants.set(live_grants)
        if result.kind != "expiry":
            # The expiry job reads no PIM state, so it cannot tell a held removal is over.
            self.removals_held.set(len(result.held))
        if result.plan.removes:
            self.denials_unplaced.set(len(result.unplaced))
        for change in result.applied:
            self.changes.labels(change.op, str(change.reason)).inc()
        for latency in revocation_latencies:
            self.revocation_latency.observe(max(0.0, latency))
        aws_kinds: dict[str, int] = {}
        for _, error in result.failed:
            kind = aws_error_kind(error)
            self.errors.labels("aws", kind).inc()
            aws_kinds[kind] = aws_kinds.get(kind, 0) + 1
        graph_errors = 0
        for f in result.findings:
            if f.kind == "unreadable_group":
                self.errors.labels("graph", graph_error_kind(f.detail)).inc()
                graph_errors += 1
        self._emit(
            {
                "LiveGrants": (live_grants, "Count"),
                "ChangesApplied": (len(result.applied), "Count"),
                "ChangesFailed": (len(result.failed), "Count"),
                "GraphErrors": (graph_errors, "Count"),
                **(
                    {"RevocationLatency": (max(revocation_latencies), "Seconds")}
                    if revocation_latencies
                    else {}
                ),
            },
            {"CycleKind": result.kind},
        )

    def observe_health(self, report: HealthReport) -> None:
        figures: dict[str, tuple[float, str]] = {}
        for check in report.checks:
            if check.state != State.SKIPPED:
                self.health_state.labels(check.name).set(_STATE_VALUE[check.state])
            days = check.figures.get("days_left")
            if days is not None:
                self.expiry_days.labels(check.name).set(days)
                figures[f"ExpiryDays.{check.name}"] = (float(days), "None")
        if report.lag is not None:
            for sample in report.lag.samples():
                self._observe_sample(sample, figures)
        self._emit(figures, {})

    def _observe_sample(self, s: LagSample, figures: dict[str, tuple[float, str]]) -> None:
        key = (s.mapping, s.source_instance_id, s.kind)
        seconds = s.scim_seconds
        if seconds is None or key in self._seen_samples:
            return
        self._seen_samples.add(key)
        self.scim_lag.labels(s.kind).observe(max(0.0, seconds))
        name = "ScimActivationLag" if s.kind == "activation" else "ScimRemovalLag"
        figures[name] = (max(seconds, figures.get(name, (0.0, ""))[0]), "Seconds")

    def _emit(self, values: dict[str, tuple[float, str]], dimensions: dict[str, str]) -> None:
        """One EMF line: CloudWatch turns it into metrics when it arrives through its logs."""
        if not self._emf or not values:
            return
        document = {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": EMF_NAMESPACE,
                        # Also without dimensions, so one alarm covers every cycle kind.
                        "Dimensions": [sorted(dimensions), []] if dimensions else [[]],
                        "Metrics": [{"Name": k, "Unit": unit} for k, (_, unit) in values.items()],
                    }
                ],
            },
            **dimensions,
            **{k: v for k, (v, _) in values.items()},
        }
        with self._emf_lock:
            self._emf_out.write(json.dumps(document) + "\n")
            self._emf_out.flush()


def revocation_latencies(ledger: Ledger, result: CycleResult, now: datetime) -> list[float]:
    """Seconds from each expired grant's end to its removal in this cycle; removals for other
    reasons (deactivation, drift) have no PIM end to measure from."""
    expired = [c for c in result.applied if c.op == "remove" and c.reason == Reason.EXPIRED]
    return ledger.revocation_latencies(expired, now) if expired else []


def live_grant_count(ledger: Ledger) -> int:
    return ledger.live_grant_count()
