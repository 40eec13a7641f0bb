"""Waiting on a process or a server that works in the background, without timed assertions."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(pred: Callable[[], bool], timeout: float = 15, every: float = 0.05) -> bool:
    """Whether `pred` came true within `timeout` seconds (asked once more at the end, so a
    slow machine's last chance is not lost to the sleep)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(every)
    return pred()
