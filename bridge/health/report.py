"""A health run's result and how `pim-bridge health` prints it: a table, or JSON."""

from __future__ import annotations

import json
import textwrap
from dataclasses import asdict, dataclass
from typing import Any, TextIO

from bridge.health.checks import Check, exit_code, overall
from bridge.lag import LagStore

WIDTH = 100  # a terminal's columns the table keeps within
MIN_DETAIL = 30  # narrower than this, the detail goes beneath its row


@dataclass
class HealthReport:
    checks: list[Check]
    lag: LagStore | None = None

    @property
    def exit_code(self) -> int:
        return exit_code(self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": overall(self.checks),
            "exit_code": self.exit_code,
            "checks": [{**asdict(c), "state": str(c.state)} for c in self.checks],
        }


def print_health(report: HealthReport, fmt: str, out: TextIO) -> None:
    if fmt == "json":
        json.dump(report.to_json(), out, indent=2, default=str)
        out.write("\n")
        return
    for line in table_lines(report.checks):
        out.write(line + "\n")
    out.write(f"\n{overall(report.checks)} (exit {report.exit_code})\n")


def table_lines(checks: list[Check], width: int = WIDTH) -> list[str]:
    """One row per check within `width` columns: the detail wrapped beside the other columns,
    or beneath them, indented, when they leave it too little room."""
    rows = [("check", "state", "value", "threshold", "detail")] + [
        (c.name, str(c.state), c.value, c.threshold, c.detail) for c in checks
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lead = sum(widths) + 2 * len(widths)
    beside = width - lead >= MIN_DETAIL
    out: list[str] = []
    for r in rows:
        head = "  ".join(v.ljust(w) for v, w in zip(r[:4], widths, strict=True))
        if beside:
            parts = textwrap.wrap(r[4], width - lead) or [""]
            out.append(f"{head}  {parts[0]}".rstrip())
            out.extend(" " * lead + p for p in parts[1:])
        else:
            out.append(head.rstrip())
            out.extend(textwrap.wrap(r[4], width, initial_indent="    ", subsequent_indent="    "))
    return out
