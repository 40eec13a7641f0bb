"""The terminal table (rich): the summary, the anomalies, then the grants. Rows wait in a spool
so the anomalies can come first; a long report switches from a rich table to aligned lines."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bridge.report.anomalies import Anomaly, alarming
from bridge.report.output import Spool
from bridge.report.provenance import RowDigest
from bridge.report.query import ReportQuery
from bridge.report.rows import GrantRow
from bridge.report.safe import printable, printable_cells
from bridge.report.summary import Summary
from bridge.report.text import (
    ANOMALY_HEADER,
    COMPACT_ANOMALY_HEADER,
    COMPACT_WIDTHS,
    Stacked,
    anomaly_cells,
    compact_anomaly_cells,
    compact_cells,
    compact_header,
    grant_cells,
    grant_header,
)

# A rich table lays out all its rows before printing; past this many, plain aligned lines.
RICH_ROWS = 500
WIDTHS = (24, 14, 28, 20, 30, 32, 32, 34, 22, 20)
ACTIVITY_WIDTH = 40  # inserted before the last column, anomalies, as text.GRANT_COLUMNS has it
ANOMALY_WIDTHS = (8, 18, 20, 20, 5, 24, 14, 24, 0)
STYLE = {"critical": "bold red", "warning": "yellow", "info": "dim"}
# Narrower than this, the grants and anomalies are stacked two lines high in fewer columns.
WIDE = 160
# Without a terminal (a pipe, a file) and no COLUMNS, lines may be this long.
FILE_WIDTH = 200


def _console(out: TextIO, width: int | None) -> Console:
    tty = out.isatty()
    # On a terminal rich reads its width (or COLUMNS); a file or pipe gets long lines.
    width = width or (None if tty else FILE_WIDTH)
    return Console(file=out, force_terminal=tty, no_color=not tty, width=width)


class TableRenderer:
    def __init__(self, out: TextIO, query: ReportQuery, width: int | None = None) -> None:
        """`width`: the columns to lay out for (default: the terminal's)."""
        self.out = out
        self.console = _console(out, width)
        self.query = query
        self.digest = RowDigest()
        self.narrow = self.console.width < WIDE
        self.header = (
            compact_header() if self.narrow else grant_header(why=False, activity=query.activity)
        )
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
        self.digest.add_row(row)
        self.count += 1
        if self.count <= RICH_ROWS:
            self.pending.append(row)
            return
        if self.pending:
            # Too many for one rich table (it lays out every row before printing any): the
            # rest go out as fixed-width lines, the same columns.
            self.pending, first = [], self.pending
            header = grant_header(why=False, activity=self.query.activity)
            self.spool.write(_plain(header, self.widths) + "\n")
            for r in first:
                self.spool.write(self._line(r))
        self.spool.write(self._line(row))

    def _line(self, r: GrantRow) -> str:
        """A fixed-width line of the wide columns: a long report is for files and pipes."""
        cells = tuple(grant_cells(r, why=False, activity=self.query.activity))
        return _plain(cells, self.widths) + "\n"

    def _cells(self, r: GrantRow) -> list[Text]:
        if self.narrow:
            return _stacked(compact_cells(r))
        return _texts(tuple(grant_cells(r, why=False, activity=self.query.activity)))

    def _flush(self) -> None:
        if not self.pending:
            return
        t = Table(title=None, expand=False, show_lines=False)
        for name in self.header:
            t.add_column(name, overflow="fold", min_width=_min_width(name, self.narrow))
        for r in self.pending:
            t.add_row(*self._cells(r), style="red" if alarming(r) else None)
        self.spool_console.print(t)
        self.pending.clear()

    def _anomaly_layout(self) -> tuple[tuple[str, ...], Callable[[Anomaly], list[Text]]]:
        if self.narrow:
            return COMPACT_ANOMALY_HEADER, lambda a: _stacked(compact_anomaly_cells(a))
        return ANOMALY_HEADER, lambda a: _texts(anomaly_cells(a))

    def finish(self, summary: Summary) -> None:
        self._flush()
        c = self.console
        head = _grid(summary.headline())
        c.print("[bold]pim-bridge audit report[/bold]")
        c.print(head)
        if summary.provenance is not None:
            c.print("[bold]Provenance[/bold]")
            c.print(_grid(summary.provenance.lines()))
        found = summary.anomalies
        if found and len(found) <= RICH_ROWS:
            header, cells = self._anomaly_layout()
            t = Table(title=f"Anomalies ({len(found)})", title_justify="left")
            for name in header:
                t.add_column(name, overflow="fold", min_width=_min_width(name, self.narrow))
            for a in found:
                t.add_row(*cells(a), style=STYLE[a.severity])
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


def _grid(pairs: list[tuple[str, str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in pairs:
        grid.add_row(label, Text(printable(value)))
    return grid


def _texts(cells: tuple[str, ...]) -> list[Text]:
    # Text, not str: rich would read "ghost[/b]@example.com" as markup (and fail on it).
    return [Text(printable(c)) for c in cells]


def _stacked(cells: list[Stacked]) -> list[Text]:
    return [Text("\n".join(printable(line) for line in lines)) for lines in cells]


def _min_width(header: str, narrow: bool) -> int | None:
    """A time or an anomaly's kind on one line in the narrow table."""
    return COMPACT_WIDTHS.get(header) if narrow else None


def _plain(cells: tuple[str, ...], widths: tuple[int, ...] = WIDTHS) -> str:
    # The last column (the detail, for anomalies) is never cut.
    *head, last = zip(printable_cells(list(cells)), widths, strict=True)
    return ("  ".join(c[:w].ljust(w) for c, w in head) + "  " + last[0]).rstrip()
