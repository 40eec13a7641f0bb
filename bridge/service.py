"""The long-running service: APScheduler 3 runs the poll, the drift sweep, and one date job per
distinct grant end time, rebuilt from the ledger on start so a restart loses no expiry."""

from __future__ import annotations

import logging
import os
import signal
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from bridge.config import Config
from bridge.errors import BridgeError
from bridge.health import ready_within, run_health
from bridge.http import HealthServer, serve_health
from bridge.incident import Incident
from bridge.incident_relay import DESK_TICK, IncidentDesk
from bridge.leader import election_for, replica_name
from bridge.metrics import BridgeMetrics, live_grant_count, revocation_latencies
from bridge.ports import Election, Timers
from bridge.reconcile import CycleResult
from bridge.revoke import ARM_TICK
from bridge.timers import SchedulerTimers, StoppingTimers
from bridge.watching import Watching
from bridge.wiring import Bridge, build
from bridge.words import plural

log = logging.getLogger(__name__)

RETRY_AFTER = timedelta(seconds=2)
SCHEDULER_THREADS = 20
STOP_GRACE = timedelta(seconds=15)


class Service:
    """Owns the scheduler. The reconciler serialises planning; a poll stuck on a slow Graph
    does not hold up an expiry job."""

    def __init__(
        self, bridge: Bridge, timers: Timers | None = None, election: Election | None = None
    ) -> None:
        self.bridge = bridge
        # Without an election (tests, one-shot use) this process simply leads.
        self.election = election
        self.is_leader = election is None
        # Each expiry job holds a thread while its removals run: room for a burst of ends
        # beside the poll, the arming tick and the leadership check.
        self.scheduler = BackgroundScheduler(
            timezone="UTC", executors={"default": ThreadPoolExecutor(SCHEDULER_THREADS)}
        )
        self.timers = StoppingTimers(timers or SchedulerTimers(self.scheduler))
        # The last cycle that read Graph and applied all it decided (no ledger-only expiry).
        self.last_ok: datetime | None = None
        self.failed_polls = 0  # polls in a row that could not read Graph
        self.last_result: CycleResult | None = None
        self.metrics = BridgeMetrics(
            emf=bridge.config.service.emf,
            last_ok=lambda: self.last_ok,
            clock=bridge.clock,
            leader=lambda: self.is_leader,
            notifications=lambda: None if bridge.notifier is None else bridge.notifier.stats,
        )
        self.http: HealthServer | None = None
        self.watching = Watching(bridge, self)
        self.desk = IncidentDesk(Incident(bridge), leading=lambda: self.is_leader)

    # -- jobs ----------------------------------------------------------------------------

    def poll(self, *, read_aws: bool = False) -> CycleResult | None:
        if not self.is_leader:
            return None
        kind = "drift" if read_aws else "poll"
        try:
            result = self.bridge.reconciler.cycle(kind=kind, read_aws=read_aws)
        except BridgeError as exc:
            self.failed_polls += 1
            log.error("%s cycle failed: %s", kind, exc)
            return None
        self.failed_polls = 0 if result.read_groups else self.failed_polls + bool(result.unreadable)
        return self.settle(result)

    def settle(self, result: CycleResult) -> CycleResult:
        self._after(result)
        self.schedule_expiries()
        self.arm()  # an extension or early end seen by this poll moves or withdraws an armed denial
        self._retry_soon(result)
        now = self.bridge.clock.now()
        if result.deferred or any(
            c.not_after is not None and c.not_after <= now for c in result.applied if c.op == "add"
        ):
            # A grant that ended while this cycle was still adding it: revoke now.
            self.expire()
        return result

    def expire(self) -> CycleResult | None:
        if not self.is_leader:
            return None
        try:
            result = self.bridge.reconciler.expire()
        except BridgeError as exc:
            log.error("expiry cycle failed: %s", exc)
            return None
        self._after(result)
        if result.plan.grants.moved or result.plan.grants.new:
            # Graph, asked as the end came, moved it (a last-second extension) or listed a grant
            # the ledger did not have: each new end needs its timer now, not at the next poll.
            self.schedule_expiries()
        self._retry_soon(result)
        return result

    def _retry_soon(self, result: CycleResult) -> None:
        """A revocation that failed stays held in the ledger, one another cycle was still
        applying is unsettled, and an expiry the brake held after a clock jump is due once
        monotonic time reaches its end: look again then, not at the next poll."""
        if result.failed or result.deferred:
            when = self.bridge.clock.now() + RETRY_AFTER
            self.timers.set(f"retry@{when.isoformat()}", when, self.expire)
        if result.recheck_at is not None:
            when = max(result.recheck_at, self.bridge.clock.now() + RETRY_AFTER)
            self.timers.set(f"recheck@{when.isoformat()}", when, self.expire)

    def arm(self) -> None:
        if not self.is_leader:
            return
        denial = self.bridge.reconciler.denial
        if denial is None:
            return
        try:
            denial.arm()
        except BridgeError as exc:
            log.error("arming session denials failed: %s", exc)

    def _after(self, result: CycleResult) -> None:
        self.last_result = result
        now = self.bridge.clock.now()
        if result.status == "ok" and result.read_groups:
            self.last_ok = now
        ledger = self.bridge.ledger
        latencies = revocation_latencies(ledger, result, now)
        self.metrics.observe_cycle(result, live_grant_count(ledger), latencies)
        self.bridge.announce(result)

    def refresh_health(self) -> None:
        """SCIM lag and expiry figures for /metrics; a failed read is logged, never raised."""
        try:
            report = run_health(self.bridge.config, self.bridge.ledger, self.bridge.clock.now())
        except Exception as exc:  # a health read must never stop the service
            log.error("health refresh failed: %s", type(exc).__name__)
            return
        report.checks.append(self.bridge.webhook_check())
        self.metrics.observe_health(report)

    def digest_activity(self) -> None:
        """Read the CloudTrail log files delivered since the last reading (leader only)."""
        if self.is_leader:
            from bridge.activity.job import digest_recent

            b = self.bridge
            digest_recent(b.config, b.ledger, b.ic, b.clock.now())

    def status(self) -> dict[str, Any]:
        """The /healthz body: live while the scheduler runs; ready while cycles that read Graph
        succeed, unless `unready_after_failed_polls` polls in a row could not read it."""
        age = None if self.last_ok is None else (self.bridge.clock.now() - self.last_ok)
        limit = ready_within(self.watching.poll_period())
        polling = self.failed_polls < self.bridge.config.service.unready_after_failed_polls
        return {
            "live": self.scheduler.running,
            "ready": age is not None and age <= limit and polling,
            "last_ok_age_seconds": None if age is None else round(age.total_seconds(), 3),
            "ready_within_seconds": limit.total_seconds(),
            "failed_graph_polls": self.failed_polls,
            "last_status": None if self.last_result is None else self.last_result.status,
            # A failing webhook is a warning: it stops no revocation, and readiness ignores it.
            "notifications": self.bridge.webhook_check().state.value,
            "watch": self.watching.status(),
        }

    def schedule_expiries(self) -> None:
        """One timer per distinct end time in the ledger. An extension moves a grant's end: its
        old timer is cancelled unless another grant still ends then."""
        wanted = {f"expire@{t.isoformat()}": t for t in self.bridge.ledger.next_expiries()}
        pending = self.timers.pending()
        for job_id in pending:
            if job_id.startswith("expire@") and job_id not in wanted:
                self.timers.cancel(job_id)
        for job_id, when in wanted.items():
            if job_id not in pending:
                self.timers.set(job_id, when, self.expire)

    # -- lifecycle -----------------------------------------------------------------------

    def recover(self) -> None:
        """On start (and on becoming leader): mark what a stop cut off, begin the delta rounds
        with no link (`Watching.prime`), look at the whole world (which reads cut-off creations
        back), revoke what ended while down, and rebuild every expiry timer from the ledger.
        Graph is read before anything is revoked, so an extension made while the bridge was
        down is honoured; when Graph does not answer, the same cycle expires from the ledger
        alone. A mapping that does not resolve is reported and retried; it stops no expiry."""
        b = self.bridge
        cut = b.ledger.mark_interrupted(b.clock.now())
        if cut:
            log.warning("%s cut off by a stop; this cycle re-plans them", plural(cut, "change"))
        self.watching.prime()
        self.desk.take_over()
        if self.poll(read_aws=True) is None:
            self.expire()

    def lead(self) -> None:
        """Standby until the election is won; then take the epoch (fencing every earlier
        leader), rebuild from the ledger and lead. Losing the lock stops all writes at once."""
        election = self.election
        if election is None:
            if not self.is_leader:
                self.is_leader = True
                self.recover()
            return
        if self.is_leader:
            if not election.still_leader():
                self.is_leader = False
                for job_id in list(self.timers.pending()):
                    self.timers.cancel(job_id)
                log.error("leadership lost: standing by, applying nothing")
            return
        if election.try_acquire():
            epoch = _take_leadership(self.bridge)
            log.warning("leader now (epoch %d): rebuilding expiries from the ledger", epoch)
            self.is_leader = True
            self.recover()

    def start(self) -> None:
        self._add_jobs()
        self._serve()
        self.scheduler.start()
        self.is_leader = False
        self.lead()

    def _add_jobs(self) -> None:
        b = self.bridge
        cfg = b.config
        sched = cfg.schedule
        interval: dict[str, Any] = {"max_instances": 1, "coalesce": True}

        def every(fn: Any, period: timedelta, job_id: str, **extra: Any) -> None:
            seconds = period.total_seconds()
            self.scheduler.add_job(fn, "interval", seconds=seconds, id=job_id, **interval, **extra)

        every(self.poll, self.watching.poll_period(), "poll")
        self.watching.add_jobs(every)
        every(self.poll, sched.drift_interval, "drift", kwargs={"read_aws": True})
        # `revoke` / `unblock` queued by a CLI while this service leads: taken within a tick.
        every(self.desk.serve, DESK_TICK, "incidents")
        if b.reconciler.denial is not None and b.reconciler.denial.arms:
            # Every end is armed at least ARM_LEAD - ARM_TICK ahead, and the ends coming into
            # reach in one tick share one write and one provisioning: a timer per end would
            # spend a write on each.
            # Late rather than skipped: a burst of expiries can hold the scheduler's threads
            # past APScheduler's one-second grace, and a skipped tick leaves ends unarmed.
            every(self.arm, ARM_TICK, "arm", misfire_grace_time=None)
        if cfg.scim.provisioning_app_id or cfg.scim.endpoint or cfg.entra.client_id:
            every(
                self.refresh_health, cfg.health.interval, "health", next_run_time=datetime.now(UTC)
            )
        if cfg.activity.enabled:
            every(self.digest_activity, cfg.activity.interval, "activity")
        # Standbys check often enough to take over within the fastest poll's interval.
        every(self.lead, max(timedelta(seconds=1), self.watching.fastest_poll() / 2), "lead")

    def _serve(self) -> None:
        self.http = serve_health(
            self.bridge.config.service.listen, self.status, self.metrics.scrape
        )

    def stop(self) -> None:
        if self.http is not None:
            self.http.stop()
            self.http = None
        self.timers.stop(self.scheduler)
        if self.election is not None:
            self.election.release()
        self.bridge.close()


def _take_leadership(bridge: Bridge) -> int:
    """Through the reconciler's ledger, whose view of grants and holdings is dropped: another
    replica may have changed them while this one stood by."""
    return bridge.reconciler.view.take_leadership(replica_name(), bridge.clock.now())


def run_service(config: Config) -> int:
    # SQLite refuses a second replica here, before anything is built.
    election = election_for(config.store.url)
    service = Service(build(config), election=election)
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.warning("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    service.start()
    sched = config.schedule
    watching = f"watch every {sched.watch_interval}, " if sched.watching else ""
    log.warning("pim-bridge running: %spoll every %s", watching, sched.poll_every())
    try:
        stop.wait()
    finally:
        stopper = threading.Thread(target=service.stop, daemon=True)
        stopper.start()
        stopper.join(STOP_GRACE.total_seconds())
        if stopper.is_alive():
            # A cycle stuck on a slow call must not keep the process alive: the next start
            # marks its cut-off intents and re-plans them.
            log.error("a cycle did not finish within %s: exiting anyway", STOP_GRACE)
            logging.shutdown()
            os._exit(0)
    return 0
