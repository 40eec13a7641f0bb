"""One-shot timers for expiry jobs on APScheduler 3's date trigger, behind the `Timers` port
(bridge/ports.py), so the service's timing is tested on a virtual clock; and the timers a
stopping service leaves alone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from apscheduler.schedulers.base import BaseScheduler

from bridge.ports import Timers


class SchedulerTimers:
    def __init__(self, scheduler: BaseScheduler) -> None:
        self.scheduler = scheduler

    def set(self, job_id: str, when: datetime, fn: Callable[[], object]) -> None:
        self.scheduler.add_job(
            fn,
            "date",
            run_date=when,
            id=job_id,
            replace_existing=True,
            misfire_grace_time=None,  # a late expiry still runs: late is better than never
        )

    def cancel(self, job_id: str) -> None:
        if self.scheduler.get_job(job_id) is not None:
            self.scheduler.remove_job(job_id)

    def pending(self) -> dict[str, datetime]:
        return {
            j.id: j.next_run_time or j.trigger.run_date  # not yet started: trigger's own date
            for j in self.scheduler.get_jobs()
            if hasattr(j.trigger, "run_date")
        }


class StoppingTimers:
    """Timers that do nothing once `stopped`: APScheduler's shutdown holds its job store while
    it waits for the running jobs, so a job that then set or read a timer would wait on it
    forever. The next start rebuilds every timer from the ledger."""

    def __init__(self, timers: Timers) -> None:
        self.timers = timers
        self.stopped = False

    def set(self, job_id: str, when: datetime, fn: Callable[[], object]) -> None:
        if not self.stopped:
            self.timers.set(job_id, when, fn)

    def cancel(self, job_id: str) -> None:
        if not self.stopped:
            self.timers.cancel(job_id)

    def pending(self) -> dict[str, datetime]:
        return {} if self.stopped else self.timers.pending()

    def stop(self, scheduler: BaseScheduler) -> None:
        """Stop `scheduler`, waiting for its running jobs, which leave the timers alone now."""
        self.stopped = True
        if scheduler.running:
            scheduler.shutdown(wait=True)
