"""Markdown for tickets: the summary, the anomalies first, then one table line per grant."""

from __future__ import annotations

from typing import TextIO

from bridge.report.output import Spool
from bridge.report.provenance import RowDigest
from bridge.report.query import ReportQuery, iso
from bridge.report.rows import GrantRow
from bridge.report.safe import markdown, markdown_cells
from bridge.report.summary import Summary
from bridge.report.text import (
    ANOMALY_HEADER,
    anomaly_cells,
    grant_cells,
    grant_header,
)


def cell(text: str) -> str:
    # Ledger text, shown as text: a pipe would end the cell, a newline the table, and a tag or
    # a link would render.
    return markdown(text)


def line(cells: tuple[str, ...] | list[str]) -> str:
    return "| " + " | ".join(markdown_cells(list(cells))) + " |\n"


class MarkdownRenderer:
    def __init__(self, out: TextIO, query: ReportQuery) -> None:
        self.out = out
        self.query = query
        self.digest = RowDigest()
        self.rows = Spool()

    def row(self, row: GrantRow) -> None:
        self.digest.add_row(row)
        self.rows.write(line(grant_cells(row, activity=self.query.activity)))

    def finish(self, summary: Summary) -> None:
        out = self.out
        out.write(f"# pim-bridge audit report\n\nGenerated {iso(self.query.now)}.\n\n")
        for label, value in summary.headline():
            out.write(f"- **{label}**: {cell(value)}\n")
        if summary.provenance is not None:
            out.write("\n## Provenance\n\n")
            for label, value in summary.provenance.lines():
                out.write(f"- **{label}**: {cell(value)}\n")
        out.write(f"\n## Anomalies ({len(summary.anomalies)})\n\n")
        if summary.anomalies:
            out.write(line(ANOMALY_HEADER))
            out.write(line(["---"] * len(ANOMALY_HEADER)))
            for a in summary.anomalies:
                out.write(line(anomaly_cells(a)))
        else:
            out.write("None.\n")
        out.write(f"\n## Grants ({summary.data.grants})\n\n")
        header = grant_header(activity=self.query.activity)
        out.write(line(list(header)))
        out.write(line(["---"] * len(header)))
        self.rows.copy_to(out)
