"""The API's front door: every Identity Center call not sent by the sandbox's seeding is
counted, delayed by `latency`, refused over `rate_limit` calls per second (a token bucket; AWS
answers ThrottlingException "Rate exceeded", HTTP 400) and, when planned with
`conflict_next(n)`, refused as a concurrent change of the same assignment."""

from __future__ import annotations

import threading
import time
from collections import Counter

from bridge.identity_center.ratelimit import TokenBucket
from bridge.sandbox.aws.api import ApiError

_CONFLICTING = ("CreateAccountAssignment", "DeleteAccountAssignment")


class FrontDoor:
    """`latency` may be changed while the server runs; use `set_rate_limit` for the rate."""

    def __init__(self, *, latency: float = 0.0, rate_limit: float | None = None) -> None:
        self.latency = latency
        self.calls: Counter[str] = Counter()
        self.throttled = 0
        self._bucket: TokenBucket | None = None
        self.set_rate_limit(rate_limit)
        self._conflicts = 0
        self._lock = threading.Lock()

    def set_rate_limit(self, rate: float | None) -> None:
        self._bucket = TokenBucket(rate) if rate else None

    def conflict_next(self, n: int = 1) -> None:
        """ConflictException on the next n Create/DeleteAccountAssignment calls."""
        with self._lock:
            self._conflicts += n

    def reset(self) -> None:
        with self._lock:
            self._conflicts = 0
            self.calls.clear()
            self.throttled = 0

    def admit(self, operation: str) -> None:
        """Count, delay and maybe refuse one call, as the API front door would."""
        with self._lock:
            self.calls[operation] += 1
        if self.latency > 0:
            time.sleep(self.latency)
        bucket = self._bucket
        if bucket is not None and not bucket.try_acquire():
            with self._lock:
                self.throttled += 1
            raise ApiError("ThrottlingException", "Rate exceeded")
        if operation in _CONFLICTING:
            with self._lock:
                if self._conflicts > 0:
                    self._conflicts -= 1
                    raise ApiError(
                        "ConflictException",
                        "Another operation on this assignment is in progress. Retry later.",
                    )
