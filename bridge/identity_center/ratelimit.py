"""A thread-safe token bucket.

The adapter blocks on it (`acquire`) to stay under Identity Center's admin API rate, and the
sandbox refuses with it (`try_acquire`) to throttle callers the way AWS does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# Refill arithmetic in floats can leave 0.9999999 tokens; that is one token.
_EPSILON = 1e-9


class TokenBucket:
    """`rate` tokens per second, holding at most `burst` (default: one second's worth)."""

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._stamp = clock()
        self._urgent = 0  # urgent callers waiting
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def try_acquire(self) -> bool:
        """Take a token if one is there; never waits."""
        with self._lock:
            self._refill()
            if self._tokens >= 1 - _EPSILON:
                self._tokens -= 1
                return True
            return False

    def acquire(self, *, urgent: bool = False) -> None:
        """Take a token, waiting for it. While an urgent caller waits, the others let it go
        first; within a class, waiters are not queued fairly, they are rate-bound."""
        if urgent:
            with self._lock:
                self._urgent += 1
        try:
            while True:
                with self._lock:
                    self._refill()
                    my_turn = urgent or not self._urgent
                    if my_turn and self._tokens >= 1 - _EPSILON:
                        self._tokens -= 1
                        return
                    # Not my turn: the next token is an urgent caller's.
                    wait = (1 - self._tokens) / self.rate if my_turn else 1 / self.rate
                self._sleep(wait)
        finally:
            if urgent:
                with self._lock:
                    self._urgent -= 1
