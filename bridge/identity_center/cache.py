"""A small thread-safe cache whose entries expire, misses included."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, Literal, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._items: dict[K, tuple[float | None, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> tuple[Literal[True], V] | tuple[Literal[False], None]:
        """(True, value) while the entry lives; (False, None) otherwise. A cached None is a
        remembered miss, which is why presence is returned apart from the value; match on the
        pair (`case True, value:`) so the type checker knows the value is there."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return False, None
            expires, value = item
            if expires is not None and self._clock() >= expires:
                del self._items[key]
                return False, None
            return True, value

    def put(self, key: K, value: V, ttl: float | None) -> None:
        """Keep `value` for `ttl` seconds, or until cleared when `ttl` is None."""
        with self._lock:
            self._items[key] = (None if ttl is None else self._clock() + ttl, value)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
