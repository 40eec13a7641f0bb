"""The terminal table (rich): the summary, the anomalies, then the grants. Rows wait in a spool
so the anomalies can come first; a long report switches from a rich table to aligned lines."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bridge.report.anomalies import alarming
from bridge.report.output import Spool
from bridge.report.query import ReportQuery
from bridge.report.rows import GrantRow
from bridge.report.safe import printable
from bridge.report.summary import Summary
from bridge.report.text import (
    anomaly_cells,
    grant_cells,
    grant_header,
)

# A rich table lays out all its rows before printing; past this many, plain aligned lines.
RICH_ROWS = 500
WIDTHS = (24, 14, 28, 20, 30, 32, 32, 34, 22, 20)
ACTIVITY_WIDTH = 40  # inserted before the last column, anomalies, as text.GRANT_COLUMNS has it
ANOMALY_HEADER = ("severity", "kind", "first seen", "count", "user", "mapping", "detail")
ANOMALY_WIDTHS = (8, 18, 20, 6, 24, 14, 0)
STYLE = {"critical": "bold red", "warning": "yellow", "info": "dim"}


def _console(out: TextIO) -> Console:
    tty = out.isatty()
    return Console(file=out, force_terminal=tty, no_color=not tty, width=None if tty else 200)


class TableRenderer:
    def __init__(self, out: TextIO, query: ReportQuery) -> None:
        self.out = out
        self.console = _console(out)
        self.query = query
        self.header = grant_header(why=False, activity=query.activity)
        self.widths = (*WIDTHS[:-1], ACTIVITY_WIDTH, WIDTHS[-1]) if query.activity else WIDTHS
        self.pending: list[GrantRow] = []
        self.count = 0
        self.spool = Spool()
        self.spool_console = Console(
            file=self.spool.file,
            force_terminal=self.console.is_terminal,
            no_color=self.console.no_color,
            width=self.console.width,
        )

    def row(self, row: GrantRow) -> None:
        self.count += 1
        if self.count <= RICH_ROWS:
            self.pending.append(row)
            return
        if self.pending:
            # Too many for one rich table (it lays out every row before printing any): the
            # rest go out as fixed-width lines, the same columns.
            self.pending, first = [], self.pending
            self.spool.write(_plain(self.header, self.widths) + "\n")
            for r in first:
                self.spool.write(_plain(self._cells(r), self.widths) + "\n")
        self.spool.write(_plain(self._cells(row), self.widths) + "\n")

    def _cells(self, r: GrantRow) -> tuple[str, ...]:
        return tuple(grant_cells(r, why=False, activity=self.query.activity))

    def _flush(self) -> None:
        if not self.pending:
            return
        t = Table(title=None, expand=False, show_lines=False)
        for name in self.header:
            t.add_column(name, overflow="fold")
        for r in self.pending:
            t.add_row(*_texts(self._cells(r)), style="red" if alarming(r) else None)
        self.spool_console.print(t)
        self.pending.clear()

    def finish(self, summary: Summary) -> None:
        self._flush()
        c = self.console
        head = Table.grid(padding=(0, 2))
        head.add_column(style="bold")
        head.add_column()
        for label, value in summary.headline():
            head.add_row(label, Text(printable(value)))
        c.print("[bold]pim-bridge audit report[/bold]")
        c.print(head)
        found = summary.anomalies
        if found and len(found) <= RICH_ROWS:
            t = Table(title=f"Anomalies ({len(found)})", title_justify="left")
            for name in ANOMALY_HEADER:
                t.add_column(name, overflow="fold")
            for a in found:
                t.add_row(*_texts(anomaly_cells(a)), style=STYLE[a.severity])
            c.print(t)
        elif found:
            c.file.write(f"Anomalies ({len(found)})\n{_plain(ANOMALY_HEADER, ANOMALY_WIDTHS)}\n")
            for a in found:
                c.file.write(_plain(anomaly_cells(a), ANOMALY_WIDTHS) + "\n")
        else:
            c.print("Anomalies: none")
        c.print(f"[bold]Grants ({summary.data.grants})[/bold]")
        c.file.flush()
        self.spool.copy_to(self.out)


def _texts(cells: tuple[str, ...]) -> list[Text]:
    # Text, not str: rich would read "ghost[/b]@example.com" as markup (and fail on it).
    return [Text(printable(c)) for c in cells]


def _plain(cells: tuple[str, ...], widths: tuple[int, ...] = WIDTHS) -> str:
    # The last column (the detail, for anomalies) is never cut.
    cells = tuple(printable(c) for c in cells)
    *head, last = zip(cells, widths, strict=True)
    return ("  ".join(c[:w].ljust(w) for c, w in head) + "  " + last[0]).rstrip()
