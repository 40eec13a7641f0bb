"""`pim-bridge status` printed: rich tables that read at 100 columns, or JSON in the shape
docs/status.md documents. Ledger text goes through `printable` before a terminal sees it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bridge.report.names import Target
from bridge.report.safe import printable
from bridge.status.rows import BlockedRow, DenialRow, HolderRow, PendingRow, Status

WIDTH = 100
FORMATS = ("table", "json")


def print_status(status: Status, fmt: str, out: TextIO) -> None:
    if fmt == "json":
        json.dump(status_json(status), out, indent=2)
        out.write("\n")
        return
    tty = out.isatty()
    console = Console(file=out, force_terminal=tty, no_color=not tty, width=WIDTH)
    console.print(f"Status at {_iso(status.at)}, from the ledger", highlight=False)
    if status.brake:
        console.print(f"safety brake: {printable(status.brake)}", style="bold red", highlight=False)
    holders, orphans = status.holders, status.orphans
    _section(console, "Holding now", len(holders), _holders(holders), "nobody holds access")
    _section(console, "Held removals", len(status.pending), _pending(status.pending))
    orphaned = "Orphans (mapping no longer in the config)"
    _section(console, orphaned, len(orphans), _holders(orphans))
    denied = "Session denials armed or in force"
    _section(console, denied, len(status.denials), _denials(status.denials))
    if status.blocked is not None:  # left out while nobody is blocked
        rows = [(b.user, _short(b.since), b.blocked_by, b.reason or "-") for b in status.blocked]
        header = ("user", "since", "by", "reason")
        _section(console, "Blocked users (until unblocked)", len(rows), _table(header, rows))


def _section(
    console: Console, title: str, count: int, table: Table | None, empty: str = "none"
) -> None:
    console.print()
    if table is None:
        console.print(f"{title}: {empty}", highlight=False)
        return
    console.print(f"{title} ({count})", style="bold", highlight=False)
    console.print(table)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> Table | None:
    if not rows:
        return None
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column(header[0], no_wrap=True)  # the user: never broken
    for name in header[1:]:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*(printable(cell) for cell in row))
    return table


def _holders(rows: Sequence[HolderRow]) -> Table | None:
    """Three lines a holding: who and what, its window, its PIM instance (an id of some 80
    characters, kept whole to be looked up)."""
    if not rows:
        return None
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for r in rows:
        state = "" if r.state == "held" else f"  ({r.state})"
        until = f"until {_short(r.until)}, {_left(r.left)} left" if r.until else "permanent"
        table.add_row(printable(r.user), printable(f"{_access(r.target)} via {r.mapping}{state}"))
        table.add_row("", f"since {_short(r.since)}, {until}")
        table.add_row(
            Text("  PIM instance", style="dim"), Text(printable(r.instance_id), style="dim")
        )
    return table


def _pending(rows: Sequence[PendingRow]) -> Table | None:
    return _table(
        ("user", "mapping", "access", "ended", "why"),
        [
            (
                r.user,
                r.mapping or "-",
                _access(r.target),
                _short(r.ended) if r.ended else "-",
                r.why,
            )
            for r in rows
        ],
    )


def _denials(rows: Sequence[DenialRow]) -> Table | None:
    return _table(
        ("user", "permission set", "accounts", "sessions before", "state"),
        [
            (
                d.user,
                d.permission_set,
                ", ".join(d.accounts),
                _short(d.issued_before),
                _denial_state(d),
            )
            for d in rows
        ],
    )


def _denial_state(d: DenialRow) -> str:
    if d.state == "armed" and d.in_force_from is not None:
        return f"armed, from {_short(d.in_force_from)}"
    if d.detail:
        return f"{d.state}: {d.detail}"
    return d.state


def _access(t: Target) -> str:
    return f"group {t.label}" if t.kind == "group" else t.label


def _short(when: datetime | None) -> str:
    return "-" if when is None else f"{when:%m-%d %H:%M:%S}"


def _left(left: timedelta | None) -> str:
    if left is None:
        return "-"
    seconds = int(left.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- JSON (docs/status.md) -------------------------------------------------------------------


def status_json(status: Status) -> dict[str, Any]:
    return {
        "at": _iso(status.at),
        "safety_brake": status.brake,
        "holding": [_holder_json(r) for r in status.holders],
        "held_removals": [
            {
                "user": r.user,
                "mapping": r.mapping,
                "target": _target_json(r.target),
                "ended": _iso(r.ended),
                "why": r.why,
            }
            for r in status.pending
        ],
        "orphans": [_holder_json(r) for r in status.orphans],
        "denials": [
            {
                "user": d.user,
                "permission_set": d.permission_set,
                "accounts": list(d.accounts),
                "sessions_issued_before": _iso(d.issued_before),
                "state": d.state,
                "in_force_from": _iso(d.in_force_from),
                "detail": d.detail,
            }
            for d in status.denials
        ],
        "blocked": None if status.blocked is None else [_blocked_json(b) for b in status.blocked],
    }


def _blocked_json(b: BlockedRow) -> dict[str, Any]:
    return {"user": b.user, "since": _iso(b.since), "by": b.blocked_by, "reason": b.reason}


def _holder_json(r: HolderRow) -> dict[str, Any]:
    return {
        "user": r.user,
        "mapping": r.mapping,
        "entra_group_id": r.entra_group_id,
        "target": _target_json(r.target),
        "since": _iso(r.since),
        "until": _iso(r.until),
        "seconds_left": None if r.left is None else int(r.left.total_seconds()),
        "pim_instance_id": r.instance_id,
        "state": r.state,
    }


def _target_json(t: Target) -> dict[str, Any]:
    return {
        "kind": t.kind,
        "name": t.label,
        "identity_center_group": t.label if t.kind == "group" else None,
        "account_id": t.account_id,
        "permission_set": t.permission_set,
    }
