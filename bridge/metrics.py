"""Prometheus metrics of the running service (docs/metrics.md lists each with an alert rule),
and the same figures as CloudWatch embedded metric format (EMF) log lines (`bridge.emf`) when
`service.emf` is on.

Each Service owns its own registry, so several services in one process (tests) do not clash.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TextIO

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from bridge.emf import EmfWriter, Figures
from bridge.health import HealthReport, State
from bridge.model import Reason
from bridge.notify import DeliveryStats
from bridge.ports import Clock, SystemClock
from bridge.reconcile import CycleResult
from bridge.store import LagSample, Ledger

REVOCATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)
# Entra exports activations in minutes and removals in its ~40 minute cycle.
SCIM_LAG_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 2400, 3600, 7200)
_AWS_CODE = re.compile(r"\b([A-Z][A-Za-z]+(?:Exception|Error|Fault))\b")
_HTTP_STATUS = re.compile(r"HTTP (\d{3})")
_STATE_VALUE = {State.OK: 0, State.WARNING: 1, State.CRITICAL: 2, State.UNKNOWN: 1}
# Every series alerts and rate() look for exists from the start, at zero.
_CHANGE_REASONS = (
    ("add", (Reason.ACTIVATED,)),
    ("remove", (Reason.EXPIRED, Reason.DEACTIVATED, Reason.ORPHANED, Reason.DRIFT)),
)
_LAG_DIRECTIONS = ("activation", "removal")


def aws_error_kind(error: str) -> str:
    m = _AWS_CODE.search(error)
    return m.group(1) if m else "other"


def graph_error_kind(detail: str) -> str:
    m = _HTTP_STATUS.search(detail)
    return f"http_{m.group(1)}" if m else "unreachable"


class CycleMetrics:
    """What the reconcile cycles did: live grants, changes, revocation latency, held removals,
    unplaced denials and errors."""

    def __init__(self, r: CollectorRegistry) -> None:
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
        for op, reasons in _CHANGE_REASONS:
            for reason in reasons:
                self.changes.labels(op, str(reason))

    def observe(self, result: CycleResult, live_grants: int, latencies: list[float]) -> Figures:
        """Feed the families; returns the cycle's figures for EMF."""
        self.live_grants.set(live_grants)
        if result.kind != "expiry":
            # The expiry job reads no PIM state, so it cannot tell a held removal is over.
            self.removals_held.set(len(result.held))
        if result.plan.removes:
            self.denials_unplaced.set(len(result.unplaced))
        for change in result.applied:
            self.changes.labels(change.op, str(change.reason)).inc()
        for latency in latencies:
            self.revocation_latency.observe(max(0.0, latency))
        for _, error in result.failed:
            self.errors.labels("aws", aws_error_kind(error)).inc()
        graph_errors = 0
        for f in result.findings:
            if f.kind == "unreadable_group":
                self.errors.labels("graph", graph_error_kind(f.detail)).inc()
                graph_errors += 1
        figures: Figures = {
            "LiveGrants": (live_grants, "Count"),
            "ChangesApplied": (len(result.applied), "Count"),
            "ChangesFailed": (len(result.failed), "Count"),
            "GraphErrors": (graph_errors, "Count"),
        }
        if latencies:
            figures["RevocationLatency"] = (max(latencies), "Seconds")
        return figures


class HealthMetrics:
    """What the health checks found: each check's state, days left on credentials, SCIM lag."""

    def __init__(self, r: CollectorRegistry) -> None:
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
        self.health_state = Gauge(
            "pim_bridge_health_check_state",
            "State of each health check: 0 ok, 1 warning or unknown, 2 critical.",
            ["check"],
            registry=r,
        )
        for direction in _LAG_DIRECTIONS:
            self.scim_lag.labels(direction)
        # A lag sample is read again by every later health run: each is observed once.
        self._seen_samples: set[tuple[str, str, str]] = set()

    def observe(self, report: HealthReport) -> Figures:
        """Feed the families; returns the report's figures for EMF."""
        figures: Figures = {}
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
        return figures

    def _observe_sample(self, s: LagSample, figures: Figures) -> None:
        key = (s.mapping, s.source_instance_id, s.kind)
        seconds = s.scim_seconds
        if seconds is None or key in self._seen_samples:
            return
        self._seen_samples.add(key)
        self.scim_lag.labels(s.kind).observe(max(0.0, seconds))
        name = "ScimActivationLag" if s.kind == "activation" else "ScimRemovalLag"
        figures[name] = (max(seconds, figures.get(name, (0.0, ""))[0]), "Seconds")


class LivenessMetrics:
    """Read at each scrape: how long since the last good cycle, and whether this replica leads."""

    def __init__(
        self,
        r: CollectorRegistry,
        clock: Clock,
        last_ok: Callable[[], datetime | None],
        leader: Callable[[], bool],
    ) -> None:
        self._clock = clock
        self._last_ok = last_ok
        self.last_cycle_age = Gauge(
            "pim_bridge_last_cycle_age_seconds",
            "Seconds since the last successful reconcile cycle (-1 before the first).",
            registry=r,
        )
        self.leader = Gauge(
            "pim_bridge_leader", "1 while this replica is the one applying changes.", registry=r
        )
        self.last_cycle_age.set_function(self._cycle_age)
        self.leader.set_function(lambda: 1.0 if leader() else 0.0)

    def _cycle_age(self) -> float:
        last = self._last_ok()
        return -1.0 if last is None else (self._clock.now() - last).total_seconds()


class NotifyMetrics(Collector):
    """Notifications by outcome, read from the sender's own counts at each scrape."""

    OUTCOMES = ("sent", "failed", "dropped")

    def __init__(self, r: CollectorRegistry, stats: Callable[[], DeliveryStats | None]) -> None:
        self._stats = stats
        r.register(self)

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "pim_bridge_notifications",
            "Notifications by outcome: sent, failed (given up after every retry), dropped "
            "(pushed out of a full queue).",
            labels=["outcome"],
        )
        stats = self._stats()
        for outcome in self.OUTCOMES:
            family.add_metric([outcome], getattr(stats, outcome) if stats else 0)
        yield family


class BridgeMetrics:
    """The service's metrics: Prometheus families in a registry of its own, and the same
    figures as EMF lines when `emf` is on."""

    def __init__(
        self,
        *,
        emf: bool = False,
        emf_out: TextIO | None = None,
        last_ok: Callable[[], datetime | None] = lambda: None,
        clock: Clock | None = None,
        leader: Callable[[], bool] = lambda: True,
        notifications: Callable[[], DeliveryStats | None] = lambda: None,
    ) -> None:
        self.registry = CollectorRegistry()
        self.cycles = CycleMetrics(self.registry)
        self.health = HealthMetrics(self.registry)
        self.liveness = LivenessMetrics(self.registry, clock or SystemClock(), last_ok, leader)
        self.notifications = NotifyMetrics(self.registry, notifications)
        self._emf = EmfWriter(enabled=emf, out=emf_out)

    def scrape(self) -> bytes:
        return generate_latest(self.registry)

    def observe_cycle(
        self, result: CycleResult, live_grants: int, revocation_latencies: list[float]
    ) -> None:
        figures = self.cycles.observe(result, live_grants, revocation_latencies)
        self._emf.emit(figures, {"CycleKind": result.kind})

    def observe_health(self, report: HealthReport) -> None:
        self._emf.emit(self.health.observe(report), {})


def revocation_latencies(ledger: Ledger, result: CycleResult, now: datetime) -> list[float]:
    """Seconds from each expired grant's end to its removal in this cycle; removals for other
    reasons (deactivation, drift) have no PIM end to measure from."""
    expired = [c for c in result.applied if c.op == "remove" and c.reason == Reason.EXPIRED]
    return ledger.revocation_latencies(expired, now) if expired else []


def live_grant_count(ledger: Ledger) -> int:
    return ledger.live_grant_count()
