"""The service's side of the membership watcher: which mappings a tick names, the poll of what
delta cannot see, and the full poll's period following whether Graph offers delta at all."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from apscheduler.schedulers.base import BaseScheduler

from bridge.errors import BridgeError
from bridge.reconcile import CycleResult
from bridge.timers import StoppingTimers
from bridge.wiring import Bridge

log = logging.getLogger(__name__)

# Adds an interval job: the function, its period, its id.
Every = Callable[[Callable[[], Any], timedelta, str], None]


class Host(Protocol):
    """What the watch jobs need of the service that runs them."""

    is_leader: bool
    last_ok: datetime | None  # when a cycle last succeeded: readiness, the cycle-age metric

    @property
    def scheduler(self) -> BaseScheduler: ...

    @property
    def timers(self) -> StoppingTimers:
        """Stopped from the start of a stop, while the scheduler may be shutting down."""
        ...

    def settle(self, result: CycleResult) -> CycleResult:
        """What follows every cycle: metrics, expiry timers, arming, retries."""
        ...


class Watching:
    def __init__(self, bridge: Bridge, host: Host) -> None:
        self._bridge = bridge
        self._config = bridge.config
        self._watcher = bridge.watcher
        self._host = host
        self.delta_available = True  # until the watcher finds Graph offers no delta

    @property
    def on(self) -> bool:
        return self._watcher is not None

    def status(self) -> dict[str, object]:
        return {"state": "off"} if self._watcher is None else self._watcher.status()

    def poll_period(self) -> timedelta:
        return self._config.schedule.poll_every(delta=self.on and self.delta_available)

    def fastest_poll(self) -> timedelta:
        """The shortest poll period: while watching, that of what the watcher cannot see."""
        schedule = self._config.schedule
        return schedule.unwatched_every if self.on else schedule.poll_every()

    def add_jobs(self, every: Every) -> None:
        schedule = self._config.schedule
        if self._watcher is None:
            return
        every(self.watch, schedule.watch_interval, "watch")
        if any(m.access != "member" for m in self._config.mappings):
            every(self.poll_unwatched, schedule.unwatched_every, "unwatched-poll")

    def prime(self) -> None:
        """Before the full poll that starts leading: the first look after it reads only what
        changed since (`MembershipWatch.prime`). A failure is the next look's to retry."""
        if self._watcher is None:
            return
        members = {m.entra_group_id for m in self._config.mappings if m.access == "member"}
        try:
            self._watcher.prime(members)
        except BridgeError as exc:
            log.error("membership watch failed: %s", exc)

    def watch(self) -> CycleResult | None:
        """Ask Graph which member mappings' groups changed and read and plan those at once."""
        if self._watcher is None or not self._host.is_leader:
            return None
        members = [m for m in self._config.mappings if m.access == "member"]
        try:
            tick = self._watcher.tick({m.entra_group_id for m in members})
        except BridgeError as exc:
            log.error("membership watch failed: %s", exc)
            return None
        self._follow_delta(tick.available)
        if tick.complete and not tick.changed:
            # Graph answered for every group and nothing changed: as good as a cycle with
            # nothing to do, so readiness and the cycle-age alert follow the watcher, not only
            # the 5-minute poll.
            self._host.last_ok = self._bridge.clock.now()
        if not tick.changed:
            return None
        result = self._scoped(
            [m.name for m in members if m.entra_group_id in tick.changed], "watch"
        )
        read = set() if result is None else result.read
        self._watcher.settled(tick.changed, {m.entra_group_id for m in members if m.name in read})
        return result

    def poll_unwatched(self) -> CycleResult | None:
        """The fast poll of the mappings group delta cannot see: PIM owners."""
        names = [m.name for m in self._config.mappings if m.access != "member"]
        return self._scoped(names, "poll") if names and self._host.is_leader else None

    def _scoped(self, names: list[str], kind: str) -> CycleResult | None:
        try:
            result = self._bridge.reconciler.cycle_for(names, kind=kind)
        except BridgeError as exc:
            log.error("%s cycle failed: %s", kind, exc)
            return None
        return self._host.settle(result)

    def _follow_delta(self, available: bool) -> None:
        """The full poll speeds up while Graph offers no delta, and slows down once it does."""
        if available == self.delta_available:
            return
        self.delta_available = available
        period = self.poll_period()
        # While the scheduler shuts down it holds its job store until the running jobs end,
        # so this job asking it for the poll would wait for ever; a start schedules anew.
        if self._host.timers.stopped:
            return
        if self._host.scheduler.get_job("poll") is not None:
            self._host.scheduler.reschedule_job(
                "poll", trigger="interval", seconds=period.total_seconds()
            )
        log.warning("full poll every %s", period)
