"""When the sandbox's SCIM provisioning exports a membership change: after fixed delays (tests),
or as Entra documents it for PIM for Groups, time-compressed so a demo shows it in seconds.

Entra provisions the first five group membership changes of an app within 10 seconds in 2 to 10
minutes; any further change waits for the app's regular cycle, every 40 minutes (Microsoft
Learn, "PIM for Groups" and "How application provisioning works"). `EntraTiming` divides every
one of those times by its compression factor and says so, since figures made this way are
simulated, not measured."""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

Op = Literal["add", "remove"]

BURST = 5  # changes per app provisioned soon, within
BURST_WINDOW = timedelta(seconds=10)
SOON = (timedelta(minutes=2), timedelta(minutes=10))
CYCLE = timedelta(minutes=40)


class ExportTiming(Protocol):
    def due(self, op: Op, now: datetime) -> datetime:
        """When a change noticed at `now` is exported."""
        ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class FixedDelays:
    activation: timedelta
    removal: timedelta

    def due(self, op: Op, now: datetime) -> datetime:
        return now + (self.activation if op == "add" else self.removal)

    def describe(self) -> str:
        return (
            f"simulated: activations exported after {self.activation.total_seconds():g}s, "
            f"removals after {self.removal.total_seconds():g}s"
        )


class EntraTiming:
    """Entra's documented timing divided by `compression`; the provisioning cycle counts from
    `start` (the job's first full cycle). Random within the documented range, repeatably."""

    def __init__(self, compression: float, start: datetime, seed: int = 2026) -> None:
        if compression <= 0:
            raise ValueError("compression must be positive")
        self.compression = compression
        self.start = start
        self._random = random.Random(seed)
        self._recent: deque[datetime] = deque()

    def scaled(self, span: timedelta) -> timedelta:
        return span / self.compression

    def due(self, op: Op, now: datetime) -> datetime:
        window = self.scaled(BURST_WINDOW)
        while self._recent and now - self._recent[0] >= window:
            self._recent.popleft()
        if len(self._recent) < BURST:
            self._recent.append(now)
            low, high = (s.total_seconds() for s in SOON)
            return now + self.scaled(timedelta(seconds=self._random.uniform(low, high)))
        return self.next_cycle(now)

    def next_cycle(self, now: datetime) -> datetime:
        cycle = self.scaled(CYCLE)
        passed = math.floor((now - self.start) / cycle) + 1
        return self.start + cycle * passed

    def describe(self) -> str:
        return (
            f"simulated: Entra's documented timing (the first {BURST} membership changes per "
            f"{BURST_WINDOW.total_seconds():g} s per app in 2-10 min, the rest at the "
            f"{CYCLE.total_seconds() / 60:g}-min cycle), time-compressed {self.compression:g}x"
        )
