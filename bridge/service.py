"""The long-running service: APScheduler 3 runs the poll, the drift sweep, and one date job per
distinct grant end time, rebuilt from the ledger on start so a restart loses no expiry."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from bridge.config import Config
from bridge.errors import BridgeError
from bridge.reconcile import CycleResult
from bridge.wiring import Bridge, build

log = logging.getLogger(__name__)


class Service:
    """Owns the scheduler. The reconciler serialises planning; a poll stuck on a slow Graph
    does not hold up an expiry job."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.last_ok: datetime | None = None
        self.last_result: CycleResult | None = None

    # -- jobs ----------------------------------------------------------------------------

    def poll(self, *, live: bool = False) -> CycleResult | None:
        kind = "drift" if live else "poll"
        try:
            result = self.bridge.reconciler.cycle(kind=kind, live=live)
        except BridgeError as exc:
            log.error("%s cycle failed: %s", kind, exc)
            return None
        self._after(result)
        self.schedule_expiries()
        return result

    def expire(self) -> CycleResult | None:
        try:
            result = self.bridge.reconciler.expire()
        except BridgeError as exc:
            log.error("expiry cycle failed: %s", exc)
            return None
        self._after(result)
        if result.failed:
            # A revocation that failed stays held in the ledger; try again soon, not at next poll.
            self._add_expiry(self.bridge.clock.now() + timedelta(seconds=2))
        return result

    def _after(self, result: CycleResult) -> None:
        self.last_result = result
        if result.status == "ok":
            self.last_ok = self.bridge.clock.now()

    def schedule_expiries(self) -> None:
        """One date job per distinct end time in the ledger; extensions move it (new time, new
        job; the old job finds nothing to revoke and is harmless)."""
        wanted = {f"expire@{t.isoformat()}": t for t in self.bridge.ledger.next_expiries()}
        for job in self.scheduler.get_jobs():
            if job.id.startswith("expire@") and job.id not in wanted:
                job.remove()
        for job_id, when in wanted.items():
            if self.scheduler.get_job(job_id) is None:
                self._add_expiry(when, job_id)

    def _add_expiry(self, when: datetime, job_id: str | None = None) -> None:
        self.scheduler.add_job(
            self.expire,
            "date",
            run_date=when,
            id=job_id or f"expire@{when.isoformat()}",
            replace_existing=True,
            misfire_grace_time=None,  # a late expiry still runs: late is better than never
        )

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        b = self.bridge
        cut = b.ledger.mark_interrupted(b.clock.now())
        if cut:
            log.warning("%d changes were cut off by a stop; this cycle re-plans them", cut)
        b.reconciler.targets()  # fail fast on names that do not resolve
        interval: dict[str, Any] = {"max_instances": 1, "coalesce": True}
        sched = b.config.schedule
        self.scheduler.add_job(
            self.poll,
            "interval",
            seconds=sched.poll_interval.total_seconds(),
            id="poll",
            **interval,
        )
        self.scheduler.add_job(
            self.poll,
            "interval",
            seconds=sched.drift_interval.total_seconds(),
            id="drift",
            kwargs={"live": True},
            **interval,
        )
        self.scheduler.start()
        # Expiries missed while down go first, then a full look at the world.
        self.expire()
        self.poll(live=True)

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.bridge.close()


def run_service(config: Config) -> int:
    service = Service(build(config))
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.warning("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    service.start()
    log.warning("pim-bridge running: poll every %s", config.schedule.poll_interval)
    try:
        stop.wait()
    finally:
        service.stop()
    return 0
