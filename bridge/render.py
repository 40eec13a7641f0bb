"""Human-readable output of a cycle, in the manner of `terraform plan`."""

from __future__ import annotations

from typing import TextIO

from bridge.model import Change
from bridge.reconcile import CycleResult


def _line(change: Change, labels: dict[str, str]) -> str:
    return "  " + change.render(labels, full=True)


def print_cycle(result: CycleResult, labels: dict[str, str], out: TextIO) -> None:
    p = result.plan
    verb = "would change" if result.dry_run else "changes"
    out.write(f"pim-bridge {result.kind}: {len(p.adds)} to add, {len(p.removes)} to remove\n")
    if p.changes:
        out.write(f"\n{verb.capitalize()}:\n")
        for c in p.changes:
            out.write(_line(c, labels) + "\n")
    if result.held:
        out.write("\nHeld back by the safety brake (not applied; exit 1 until resolved):\n")
        for c in result.held:
            out.write(_line(c, labels) + "\n")
    if result.failed:
        out.write("\nFailed:\n")
        for c, why in result.failed:
            out.write(f"{_line(c, labels)}\n      {why}\n")
    if result.findings:
        out.write("\nFindings:\n")
        for f in result.findings:
            via = f" [{f.mapping}]" if f.mapping else ""
            out.write(f"  ! {f.kind}: {f.detail}{via}\n")
    if result.unplaced:
        out.write("\nSession denials not written:\n")
        for why in result.unplaced:
            out.write(f"  ! {why}\n")
    if result.dry_run:
        out.write("\nDry run: nothing was changed.\n")
    elif not p.changes and not result.held:
        out.write("\nNo changes: Identity Center matches PIM.\n")
