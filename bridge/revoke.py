"""All of session denial's timing: when each denial is written, and with which bound.

Removing an assignment stops new AWS sessions, not ones already issued, so every removal is
paired with a Deny of the user's older sessions (the statements: `bridge.denial.policy`; where
they are written: `bridge.denial.writer`). `SessionDenial` decides the moments:
- an expiry's denial is *armed* ahead of the end: written with `aws:CurrentTime` at or after the
  end as a further condition, inert until that second and in force from it, without a write or
  a provisioning racing the end (`arm`, run after every poll and every ARM_TICK);
- a removal nobody could foresee (deactivation, drift) is denied while it runs, bounded a little
  past its expected end (`RemovalTimes`), and denied again at its end if it outlasted the bound;
- access given back before a bound has passed waits for it, so a re-activation's fresh
  sessions are not caught by the old denial (`hold_for_bound`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from bridge import cycle_log
from bridge.denial.policy import denial_bound
from bridge.denial.writer import DenialReport
from bridge.errors import BridgeError
from bridge.model import Binding, Change, Target
from bridge.ports import Clock

log = logging.getLogger(__name__)

# How long before a grant's end its denial is written (armed), in force from the end itself: long
# enough for the write and the provisioning to finish first, even when a burst of ends shares
# the instance's 20 calls/s; short enough that few extensions arrive after it.
ARM_LEAD = timedelta(seconds=30)
# How often the service arms (besides after every poll).
ARM_TICK = timedelta(seconds=10)
# An armed denial's bound lies this much past the end plus the expected removal time, so the
# expiry's own denial (bound: when it started, plus the expected removal time) needs no write.
ARM_SLACK = timedelta(seconds=1)

# Denies the removed users' sessions issued before the given time (`Revoker.deny`).
DenyNow = Callable[[list[Change], datetime], DenialReport | None]
# Writes denials ahead of grants' ends (binding -> (bound, end)) and withdraws those of the given
# bindings (`Revoker.arm`).
ArmAhead = Callable[[Mapping[Binding, tuple[datetime, datetime]], list[Binding]], DenialReport]
# Held bindings whose access ends after `now` and by `until`, with that end (`Ledger.ends_within`).
EndsWithin = Callable[[datetime, datetime], Mapping[Binding, datetime]]
# Starts a piece of work beside the caller's and returns what waits for it to finish.
Beside = Callable[[Callable[[], None]], Callable[[], None]]
# A permission set's name from its ARN (`AwsIdentityCenter.permission_set_name`).
NameOf = Callable[[str], str]


def in_a_thread(work: Callable[[], None]) -> Callable[[], None]:
    """A removal's denial runs in a thread beside it: both wait on Identity Center."""
    thread = threading.Thread(target=work, name="deny-ahead", daemon=True)
    thread.start()
    return thread.join


class RemovalTimes:
    """How long removals of each kind have been taking. A denial is written while its removal
    runs, with a bound a little past the removal's expected end: every session issued through
    the access being removed falls before it. A removal that outlasts the bound is followed by
    a second denial at its real end, so the estimate costs writes when wrong, never coverage."""

    DEFAULT = timedelta(seconds=3)
    FLOOR = timedelta(seconds=1)
    # A longer bound would deny a re-activation's first sessions for longer (see Reconciler).
    CEILING = timedelta(seconds=10)

    def __init__(self, keep: int = 64, needed: int = 5) -> None:
        self._seen: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=keep))
        self._needed = needed
        self._lock = threading.Lock()

    def record(self, target: Target, took: timedelta) -> None:
        with self._lock:
            self._seen[type(target).__name__].append(took.total_seconds())

    def margin(self, target: Target) -> timedelta:
        """Half as long again as nine in ten recent removals of this kind of target took."""
        with self._lock:
            seen = sorted(self._seen[type(target).__name__])
        if len(seen) < self._needed:
            return self.DEFAULT
        p90 = seen[min(len(seen) - 1, int(0.9 * len(seen)))]
        return max(self.FLOOR, min(self.CEILING, timedelta(seconds=1.5 * p90)))


class SessionDenial:
    """One per process, given to the Reconciler: it hands over each removal as a call."""

    def __init__(
        self,
        deny: DenyNow,
        arm: ArmAhead | None,
        ends_within: EndsWithin,
        clock: Clock,
        *,
        sleep: Callable[[float], None] = time.sleep,
        beside: Beside = in_a_thread,
        permission_set_name: NameOf | None = None,
    ) -> None:
        self._deny_now = deny
        self._arm_ahead = arm
        self._ends_within = ends_within
        # Never later than the monotonic estimate of now (`ClockWatch.bounding`): a bound in
        # the future (after a forward jump of the wall clock) would deny a later
        # re-activation's sessions.
        self.clock = clock
        self.sleep = sleep
        self._beside = beside
        self._permission_set_name = permission_set_name
        self.removal_times = RemovalTimes()
        self._lock = threading.Lock()
        self._arm_lock = threading.Lock()
        self._armed: dict[Binding, tuple[datetime, datetime]] = {}  # binding -> (bound, end)
        # User id -> the latest bound a denial of their sessions was written with: their new
        # access waits until it has passed, so a re-activation's sessions are not denied.
        self._denied_until: dict[str, datetime] = {}

    @property
    def arms(self) -> bool:
        return self._arm_ahead is not None

    def remove(
        self, change: Change, call: Callable[[], str | None]
    ) -> tuple[str | None, list[str]]:
        """Run the removal `call`, and deny the user's older sessions at the same time rather
        than after: both wait on Identity Center's asynchronous requests, so in sequence they
        would take twice as long. Returns the removal's error and the denial's problems."""
        target = change.binding.target
        start = self.clock.now()
        bound = start + self.removal_times.margin(target)
        with self._lock:
            armed = self._armed.get(change.binding)
            if armed is not None and armed[1] <= start:
                # Armed ahead of this end and in force since: its bound is the one to keep
                # (the write below then finds nothing to change).
                bound = max(bound, armed[0])
            user = change.binding.ic_user_id
            self._denied_until[user] = max(self._denied_until.get(user, bound), bound)
        problems: list[str] = []
        denied = self._beside(lambda: problems.extend(self._deny(change, bound)))
        error = call()
        done = self.clock.now()
        denied()
        if error is None:
            self.removal_times.record(target, done - start)
            if denial_bound(done) > denial_bound(bound):
                problems.extend(self._deny(change, done))
        return error, problems

    def hold_for_bound(self, user: str) -> None:
        """A session issued before a denial's bound is denied, so access given back sooner
        (a re-activation within seconds of the end) waits until the bound has passed."""
        with self._lock:
            until = self._denied_until.get(user)
            if until is not None and denial_bound(until) <= self.clock.now():
                del self._denied_until[user]
                return
        if until is not None:
            wait = (denial_bound(until) - self.clock.now()).total_seconds()
            if wait > 0:
                log.info("access for %s waits %.1fs for its session denial's bound", user, wait)
                self.sleep(wait)

    def arm(self) -> None:
        """Arm the denials of held bindings whose grants end within ARM_LEAD, each in force from
        its end; withdraw those armed for an end that no longer comes (extended beyond the lead,
        ended early, or no longer held). Level-triggered: what is already armed for the same
        end is not written again. Runs serialised, so a later run sees what an earlier wrote."""
        if self._arm_ahead is None:
            return
        with self._arm_lock:
            now = self.clock.now()
            want = self._ends_within(now, now + ARM_LEAD)
            with self._lock:
                fresh = {
                    b: (e + self.removal_times.margin(b.target) + ARM_SLACK, e)
                    for b, e in want.items()
                    if self._armed.get(b, (None, None))[1] != e
                }
                # An armed end that has come is in force; one that has not and is no longer
                # wanted must go, or it would deny the user's sessions at an end that never came.
                stale = [b for b, (_, e) in self._armed.items() if e > now and b not in want]
                # Entries in force are kept a little, for the expiry's removal to find its bound.
                self._armed = {
                    b: v
                    for b, v in self._armed.items()
                    if b in want or now - 2 * ARM_LEAD < v[1] <= now
                }
            if fresh or stale:
                self._write_armed(fresh, stale)

    def _write_armed(
        self, fresh: dict[Binding, tuple[datetime, datetime]], stale: list[Binding]
    ) -> None:
        assert self._arm_ahead is not None
        try:
            report = self._arm_ahead(fresh, stale)
        except BridgeError as exc:
            log.error("arming session denials failed: %s", exc)
            return
        for where, accounts in report.written:
            cycle_log.denials_armed(self._policy_name(where), accounts)
        if report.problems:
            return  # not recorded as armed: the next run tries again
        # Armings that found no room are left to the removal, which denies at once.
        with self._lock:
            self._armed.update(
                {b: v for b, v in fresh.items() if b.ic_user_id not in report.unarmed}
            )

    def _deny(self, change: Change, before: datetime) -> list[str]:
        try:
            report = self._deny_now([change], before)
        except BridgeError as exc:
            log.error("denying older sessions after %s: %s", change, exc)
            return [f"denial after {change} failed: {exc}"]
        if report is None:
            return []
        for where, accounts in report.written:
            cycle_log.denial_written(change.user, self._policy_name(where), accounts)
        return list(report.problems)

    def _policy_name(self, where: str) -> str:
        """The permission set's name for a policy written on its ARN; an SCP by its own."""
        if self._permission_set_name is None or not where.startswith("arn:"):
            return where
        try:
            return self._permission_set_name(where)
        except BridgeError:
            return where.rsplit("/", 1)[-1]
