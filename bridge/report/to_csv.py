"""CSV for spreadsheets and SIEMs: one header line, one row per grant, ISO-8601 UTC times. CSV
carries rows only; its provenance, with a digest of its data lines, goes to a sidecar file."""

from __future__ import annotations

import csv
import json
from typing import TextIO

from bridge.report.columns import NAMES, csv_cells
from bridge.report.provenance import CSV_ROWS, RowDigest
from bridge.report.rows import GrantRow
from bridge.report.safe import printable_cells
from bridge.report.summary import Summary


def unquoted_line(cells: list[str]) -> str | None:
    """The line the CSV writer would make of `cells` when none needs quotes (the usual row),
    else None: the writer looks at every character of every cell in turn (a fifth of a large
    report's time), the line is asked the same once."""
    text = ",".join(cells)
    if len(cells) < 2 or text.count(",") != len(cells) - 1:
        return None  # a cell holds a comma (or is alone, and quoted when empty)
    if '"' in text or "\r" in text or "\n" in text:
        return None  # a cell holds a quote or a line break
    return text + "\r\n"


class _Lines:
    """Where the CSV writer puts each line it makes: taken off at once, no buffer to reset."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.write = self.lines.append


class CsvRenderer:
    def __init__(self, out: TextIO, sidecar: TextIO | None = None) -> None:
        self.out = out
        self.sidecar = sidecar
        self.digest = RowDigest(CSV_ROWS)
        self._made = _Lines()
        # RFC 4180 line ends; the caller opens files with newline="" so none are doubled.
        self.writer = csv.writer(self._made, lineterminator="\r\n")
        self.writer.writerow(NAMES)
        out.write(self._made.lines.pop())

    def row(self, row: GrantRow) -> None:
        # A control character would reach whatever shows the file: a terminal, a SIEM.
        cells = printable_cells(csv_cells(row))
        text = unquoted_line(cells)
        if text is None:
            self.writer.writerow(cells)
            text = self._made.lines.pop()
        self.digest.add_text(text)
        self.out.write(text)

    def finish(self, summary: Summary) -> None:
        """The summary and ledger anomalies are in the other formats; the provenance of these
        very lines in the sidecar, when there is one."""
        if self.sidecar is not None and summary.provenance is not None:
            block = summary.provenance.as_dict()
            self.sidecar.write(json.dumps({"provenance": block}, indent=1) + "\n")
