"""The checks' one output: a line per check, and the exit code they add up to (2 when any
failed, 1 when any warned, 0 otherwise; a check skipped with a note counts as passed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, TextIO

State = Literal["ok", "warning", "failed", "skipped"]
_PREFIX: dict[State, str] = {
    "ok": "",
    "warning": "WARNING: ",
    "failed": "FAILED: ",
    "skipped": "skipped: ",
}
_EXIT: dict[State, int] = {"ok": 0, "skipped": 0, "warning": 1, "failed": 2}


@dataclass(frozen=True)
class Check:
    subject: str
    state: State
    detail: str

    def line(self) -> str:
        return f"{self.subject}: {_PREFIX[self.state]}{self.detail}"


class Checks:
    """Prints each check as it is decided, so a slow endpoint shows where the time goes."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._worst = 0

    def add(self, subject: str, state: State, detail: str) -> None:
        print(Check(subject, state, detail).line(), file=self._out, flush=True)
        self._worst = max(self._worst, _EXIT[state])

    def ok(self, subject: str, detail: str) -> None:
        self.add(subject, "ok", detail)

    def warn(self, subject: str, detail: str) -> None:
        self.add(subject, "warning", detail)

    def fail(self, subject: str, detail: str) -> None:
        self.add(subject, "failed", detail)

    def skip(self, subject: str, detail: str) -> None:
        self.add(subject, "skipped", detail)

    @property
    def exit_code(self) -> int:
        return self._worst


def span(duration: timedelta) -> str:
    """'1h', '8h', '1h30m', '45m': how PIM and AWS write these durations in their consoles."""
    hours, rest = divmod(int(duration.total_seconds()), 3600)
    minutes = rest // 60
    if hours and minutes:
        return f"{hours}h{minutes:02d}m"
    return f"{hours}h" if hours else f"{minutes}m"
