"""Human-readable output of a cycle, in the manner of `terraform plan`, within 100 columns."""

from __future__ import annotations

import re
import textwrap
from typing import TextIO

from bridge.model import Change
from bridge.reconcile import CycleResult

WIDTH = 100


def _write(out: TextIO, text: str, hang: int = 6) -> None:
    """`text` within WIDTH: broken between its clauses (after "; ", before the " [mapping]"
    tag) where that is enough, else between words; each further line indented by `hang`. A
    name or an id is never broken."""
    lines = [""]
    for chunk in _CLAUSE.split(text):
        if lines[-1] and len(lines[-1]) + len(chunk) > WIDTH:
            lines.append(" " * hang + chunk.lstrip())
        else:
            lines[-1] += chunk
    if any(len(line.rstrip()) > WIDTH for line in lines):
        lead = " " * (len(text) - len(text.lstrip(" ")))
        lines = textwrap.wrap(
            text.strip(),
            WIDTH,
            initial_indent=lead,
            subsequent_indent=" " * hang,
            break_long_words=False,
            break_on_hyphens=False,
        )
    out.write("".join(line.rstrip() + "\n" for line in lines))


# Where a line may break: after a clause's "; ", and before the mapping's " [name]".
_CLAUSE = re.compile(r"(?<=; )|(?= \[[^\]]*\]$)")


def _change(out: TextIO, change: Change, labels: dict[str, str]) -> None:
    _write(out, "  " + change.render(labels, full=True))


def print_cycle(result: CycleResult, labels: dict[str, str], out: TextIO) -> None:
    p = result.plan
    verb = "would change" if result.dry_run else "changes"
    out.write(f"pim-bridge {result.kind}: {len(p.adds)} to add, {len(p.removes)} to remove\n")
    if p.changes:
        out.write(f"\n{verb.capitalize()}:\n")
        for c in p.changes:
            _change(out, c, labels)
    if result.held:
        out.write("\nHeld back by the safety brake (not applied; exit 1 until resolved):\n")
        for c in result.held:
            _change(out, c, labels)
    if result.failed:
        out.write("\nFailed:\n")
        for c, why in result.failed:
            _change(out, c, labels)
            _write(out, f"      {why}", 8)
    if result.findings:
        out.write("\nFindings:\n")
        for f in result.findings:
            via = f" [{f.mapping}]" if f.mapping else ""
            _write(out, f"  ! {f.kind}: {f.detail}{via}")
    if result.unplaced:
        out.write("\nSession denials not written:\n")
        for why in result.unplaced:
            _write(out, f"  ! {why}")
    if result.dry_run:
        out.write("\nDry run: nothing was changed.\n")
    elif not p.changes and not result.held:
        out.write("\nNo changes: Identity Center matches PIM.\n")
