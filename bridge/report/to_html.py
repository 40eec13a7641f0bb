"""HTML: one self-contained file (inline CSS and SVG, no script, nothing fetched) with the
summary, the anomalies, latency histograms, a timeline per mapping and the grants; it prints on
landscape pages with the table header repeated."""

from __future__ import annotations

from html import escape
from typing import TextIO

from bridge.report import plots
from bridge.report.anomalies import alarming
from bridge.report.output import Spool
from bridge.report.provenance import RowDigest
from bridge.report.query import ReportQuery, iso
from bridge.report.rows import GrantRow
from bridge.report.safe import html, html_cells
from bridge.report.summary import TIMELINE_LIMIT, Summary
from bridge.report.text import (
    ANOMALY_HEADER,
    anomaly_cells,
    grant_cells,
    grant_header,
)

CSS = """
body { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f;
       margin: 24px; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 24px 0 8px; }
.meta { color: #666; margin-bottom: 12px; }
dl.summary { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; }
dl.summary dt { font-weight: 600; } dl.summary dd { margin: 0; }
table { border-collapse: collapse; width: 100%; font-size: 12px; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } thead { display: table-header-group; }
tr.anomalous td { background: #fdecea; }
.sev-critical { color: #b00020; font-weight: 600; } .sev-warning { color: #8a5a00; }
.sev-info { color: #666; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; break-inside: avoid; } figure svg { max-width: 100%; height: auto; }
.none { color: #2e7d32; } .hint { color: #666; font-style: italic; }
@media print {
  @page { size: A4 landscape; margin: 12mm; }
  body { margin: 0; font-size: 10px; } table { font-size: 9px; }
  tr { break-inside: avoid; } h2 { break-after: avoid; }
  tr.anomalous td { background: none; font-weight: 600; }
}
"""


def _td(text: str) -> str:
    return f"<td>{html(text)}</td>"


class HtmlRenderer:
    def __init__(self, out: TextIO, query: ReportQuery) -> None:
        self.out = out
        self.query = query
        self.digest = RowDigest()
        self.rows = Spool()

    def row(self, row: GrantRow) -> None:
        self.digest.add_row(row)
        cls = ' class="anomalous"' if alarming(row) else ""
        cells = grant_cells(row, activity=self.query.activity)
        tds = "</td><td>".join(html_cells(cells))
        self.rows.write(f"<tr{cls}><td>{tds}</td></tr>\n")

    def finish(self, summary: Summary) -> None:
        w = self.out.write
        w('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n')
        w("<title>pim-bridge audit report</title>\n")
        w(f"<style>{CSS}</style>\n</head>\n<body>\n<h1>pim-bridge audit report</h1>\n")
        w(f'<div class="meta">Generated {escape(iso(self.query.now))}</div>\n')
        w('<section id="summary"><h2>Summary</h2>\n<dl class="summary">\n')
        for label, value in summary.headline():
            w(f"<dt>{escape(label)}</dt><dd>{html(value)}</dd>\n")
        w("</dl></section>\n")
        if summary.provenance is not None:
            w('<section id="provenance"><h2>Provenance</h2>\n<dl class="summary">\n')
            for label, value in summary.provenance.lines():
                w(f"<dt>{escape(label)}</dt><dd>{html(value)}</dd>\n")
            w("</dl></section>\n")
        self._anomalies(summary)
        self._plots(summary)
        w(f'<section id="grants"><h2>Grants ({summary.data.grants})</h2>\n<table>\n<thead><tr>')
        head = grant_header(activity=self.query.activity)
        w("".join(f"<th>{escape(h)}</th>" for h in head))
        w("</tr></thead>\n<tbody>\n")
        self.rows.copy_to(self.out)
        w("</tbody></table></section>\n</body>\n</html>\n")

    def _anomalies(self, summary: Summary) -> None:
        w = self.out.write
        w(f'<section id="anomalies"><h2>Anomalies ({len(summary.anomalies)})</h2>\n')
        if not summary.anomalies:
            w('<p class="none">None: every ended grant was revoked within the target.</p>')
            w("</section>\n")
            return
        w("<table><thead><tr>")
        w("".join(f"<th>{escape(h)}</th>" for h in ANOMALY_HEADER))
        w("</tr></thead><tbody>\n")
        for a in summary.anomalies:
            severity, *rest = anomaly_cells(a)
            w(f'<tr><td class="sev-{a.severity}">{html(severity)}</td>')
            w("".join(_td(c) for c in rest) + "</tr>\n")
        w("</tbody></table></section>\n")

    def _plots(self, summary: Summary) -> None:
        w = self.out.write
        d = summary.data
        w('<section id="latency"><h2>Latencies</h2>\n')
        if plots.available():
            self._histograms(summary)
        else:
            w(f'<p class="hint">{escape(plots.INSTALL_HINT)}</p>\n')
        w("</section>\n")
        w('<section id="timelines"><h2>Timeline per mapping</h2>\n')
        for mapping, spans in sorted(d.timelines.items()):
            shown = len(spans)
            total = d.by_mapping[mapping]
            if total > shown:
                w(
                    f'<p class="hint">{html(mapping)}: the latest {TIMELINE_LIMIT} of {total} '
                    "grants</p>\n"
                )
            w(f"<figure>{plots.timeline(mapping, list(spans), self.query.now)}</figure>\n")
        w("</section>\n")

    def _histograms(self, summary: Summary) -> None:
        w = self.out.write
        d = summary.data
        w('<div class="plots">\n')
        figures = [
            (d.access_s, "activation -> access", "seconds from PIM activation", None),
            (
                d.revoke_s,
                "end -> revoked",
                "seconds from the end (PIM's request, for a deactivation) to the removal",
                self.query.revoke_target.total_seconds(),
            ),
            (
                d.scim_s,
                f"SCIM lag, activations{summary.scim_note}",
                "seconds from PIM to SCIM's export",
                None,
            ),
            (
                d.scim_removal_s,
                f"SCIM lag, removals{summary.scim_note}",
                "seconds from the end to SCIM's export",
                None,
            ),
        ]
        for values, title, xlabel, target in figures:
            if values:
                w(f"<figure>{plots.histogram(values, title, xlabel, target)}</figure>\n")
            else:
                w(f'<p class="hint">{escape(title)}: no samples (unknown)</p>\n')
        w("</div>\n")
