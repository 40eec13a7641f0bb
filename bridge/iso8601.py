"""ISO 8601 durations, as AWS writes a permission set's session and Graph a PIM policy's
longest activation: 'PT1H', 'PT2H30M', 'P1D'."""

from __future__ import annotations

import re
from datetime import timedelta

_ISO_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def parse_iso_duration(value: str | int | float) -> timedelta:
    """A bare number is seconds (moto's default session is 3600)."""
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    m = _ISO_DURATION.match(value)
    if not m or not any(m.groups()):
        raise ValueError(f"not an ISO 8601 duration: {value!r}")
    d, h, mi, s = (int(g or 0) for g in m.groups())
    return timedelta(days=d, hours=h, minutes=mi, seconds=s)
