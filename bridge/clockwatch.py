"""Ends are judged by the wall clock, and a wall clock can be set: by NTP stepping after a
suspend, by an operator, by an attacker with root. The monotonic clock cannot be set, so the
two read together tell a jump from time passing.

Handled conservatively, both ways:
- forward: ends that came due only through the jump are judged by the safety brake (a few are
  removed, a mass of them is held and alerted) until monotonic time reaches them; denial bounds
  never lie past the monotonic estimate of now (a bound in the future would deny the sessions of
  a later re-activation).
- backward: ends are judged by the monotonic estimate, which is later than the wall clock, so no
  end is honoured late.
Either way a finding says so on every cycle while it lasts; a restart takes the wall clock as it
is then.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.model import Finding
from bridge.ports import Clock

# NTP slews by well under this between two cycles; a larger step is a jump.
TOLERANCE = timedelta(seconds=5)


@dataclass(frozen=True)
class Reading:
    now: datetime  # the moment ends are judged against
    trusted: datetime  # the monotonic estimate of now: the latest a denial bound may be
    judge_after: datetime | None  # ends after this came due only through a forward jump
    finding: Finding | None = None


class ClockWatch:
    """Reads the clock for the cycles and notices when the wall clock jumps."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._anchor: tuple[datetime, float] | None = None
        self._lock = threading.Lock()

    def read(self) -> Reading:
        wall, mono = self.clock.now(), self.clock.monotonic()
        with self._lock:
            if self._anchor is None:
                self._anchor = (wall, mono)
            base_wall, base_mono = self._anchor
            trusted = base_wall + timedelta(seconds=mono - base_mono)
            skew = wall - trusted
            if abs(skew) <= TOLERANCE:
                # Small differences are the wall clock being disciplined: follow it.
                self._anchor = (wall, mono)
                return Reading(wall, wall, None)
        if skew > timedelta(0):
            effect = (
                "ends it brought forward are judged by the safety brake until monotonic time "
                "reaches them"
            )
            return Reading(wall, trusted, trusted, _finding("ahead of", skew, effect))
        effect = "ends are judged by monotonic time, so none is honoured late"
        return Reading(trusted, trusted, None, _finding("behind", -skew, effect))

    def bound_now(self) -> datetime:
        """The moment a session denial's bound is measured from: never past either estimate
        of now, so no bound lies in the future."""
        return min(self.clock.now(), self.read().trusted)

    def bounding(self) -> BoundingClock:
        """A Clock whose now() is `bound_now`: the one session denial measures by."""
        return BoundingClock(self)


class BoundingClock:
    """The Clock port over a ClockWatch: wall time never ahead of the monotonic estimate."""

    def __init__(self, watch: ClockWatch) -> None:
        self._watch = watch

    def now(self) -> datetime:
        return self._watch.bound_now()

    def monotonic(self) -> float:
        return self._watch.clock.monotonic()


def _finding(relation: str, by: timedelta, effect: str) -> Finding:
    seconds = round(by.total_seconds())
    return Finding(
        "clock_jump",
        f"the wall clock is {seconds}s {relation} the monotonic clock (set, or jumped): {effect}",
    )
