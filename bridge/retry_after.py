"""The wait a `Retry-After` header asks for, read once for every client the bridge has."""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime

from bridge.model import as_utc


def retry_after_seconds(raw: str | None, now: Callable[[], float] = time.time) -> float | None:
    """The seconds a `Retry-After` value asks to wait, given as delta-seconds or as an
    HTTP-date (RFC 9110, section 10.2.3); None when absent or unreadable. A date in the past
    asks for no wait."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    # An HTTP-date is always GMT; `-0000` parses as naive, which would be read as local.
    return max(0.0, as_utc(when).timestamp() - now())
