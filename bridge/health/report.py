"""A health run's result and how `pim-bridge health` prints it: a table, or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, TextIO

from bridge.health.checks import Check, exit_code, overall
from bridge.lag import LagStore


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
    rows = [("check", "state", "value", "threshold", "detail")] + [
        (c.name, str(c.state), c.value, c.threshold, c.detail) for c in report.checks
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        out.write(
            "  ".join(v.ljust(w) for v, w in zip(r[:4], widths, strict=True)) + "  " + r[4] + "\n"
        )
    out.write(f"\n{overall(report.checks)} (exit {report.exit_code})\n")
