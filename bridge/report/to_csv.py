"""CSV for spreadsheets and SIEMs: one header line, one row per grant, ISO-8601 UTC times."""

from __future__ import annotations

import csv
from typing import TextIO

from bridge.report.columns import NAMES, csv_cells
from bridge.report.rows import GrantRow
from bridge.report.safe import printable
from bridge.report.summary import Summary


class CsvRenderer:
    def __init__(self, out: TextIO) -> None:
        # RFC 4180 line ends; the caller opens files with newline="" so none are doubled.
        self.writer = csv.writer(out, lineterminator="\r\n")
        self.writer.writerow(NAMES)

    def row(self, row: GrantRow) -> None:
        # A control character would reach whatever shows the file: a terminal, a SIEM.
        self.writer.writerow([printable(c) for c in csv_cells(row)])

    def finish(self, summary: Summary) -> None:
        """CSV carries rows only; the summary and ledger anomalies are in the other formats."""
