"""CSV for spreadsheets and SIEMs: one header line, one row per grant, ISO-8601 UTC times."""

from __future__ import annotations

import csv
from typing import TextIO

from bridge.report.columns import NAMES, csv_cells
from bridge.report.rows import GrantRow
from bridge.report.summary import Summary


class CsvRenderer:
    def __init__(self, out: TextIO) -> None:
        # RFC 4180 line ends; the caller opens files with newline="" so none are doubled.
        self.writer = csv.writer(out, lineterminator="\r\n")
        self.writer.writerow(NAMES)

    def row(self, row: GrantRow) -> None:
        self.writer.writerow(csv_cells(row))

    def finish(self, summary: Summary) -> None:
        """CSV carries rows only; the summary and ledger anomalies are in the other formats."""
