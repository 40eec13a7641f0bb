"""One-shot timers for expiry jobs, behind a small port so the service's timing is tested on a
virtual clock. Production uses APScheduler 3's date trigger; tests use `VirtualTimers`, which
fires due jobs in time order as the test moves a FakeClock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from apscheduler.schedulers.base import BaseScheduler

from bridge.ports import FakeClock


class Timers(Protocol):
    def set(self, job_id: str, when: datetime, fn: Callable[[], object]) -> None:
        """Run `fn` at `when` (at once if it has passed). Same id: replaced."""
        ...

    def cancel(self, job_id: str) -> None: ...

    def pending(self) -> dict[str, datetime]: ...


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


class VirtualTimers:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.jobs: dict[str, tuple[datetime, Callable[[], object]]] = {}
        self.fired: list[tuple[str, datetime]] = []  # (job id, clock time when it ran)

    def set(self, job_id: str, when: datetime, fn: Callable[[], object]) -> None:
        self.jobs[job_id] = (when, fn)

    def cancel(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)

    def pending(self) -> dict[str, datetime]:
        return {k: when for k, (when, _) in self.jobs.items()}

    def advance_to(self, until: datetime) -> None:
        """Move the clock to `until`, running every job due on the way at its own time."""
        while True:
            due = [(when, k) for k, (when, _) in self.jobs.items() if when <= until]
            if not due:
                break
            when, job_id = min(due)
            if when > self.clock.now():
                self.clock.set(when)
            _, fn = self.jobs.pop(job_id)
            self.fired.append((job_id, self.clock.now()))
            fn()
        if until > self.clock.now():
            self.clock.set(until)
