"""The audit report: who could act in which AWS account, when, on whose approval, and whether
access was really gone when PIM said it ended. It reads only the ledger (the config, when
given, adds names)."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bridge.config import Config
from bridge.report.activity import ActivityCollector, with_activity
from bridge.report.anomalies import from_ledger
from bridge.report.index import LedgerIndex
from bridge.report.names import Names
from bridge.report.output import Renderer
from bridge.report.provenance import Provenance, Source
from bridge.report.query import ReportQuery
from bridge.report.rows import iter_rows
from bridge.report.summary import Collector, Summary
from bridge.store import Ledger, ReportReader

if TYPE_CHECKING:
    from rich.progress import Progress

FORMATS = ("table", "csv", "json", "md", "html")
EXTENSIONS = {".csv": "csv", ".json": "json", ".md": "md", ".html": "html", ".htm": "html"}
# Below this many grants a report takes well under a second: no progress bar.
PROGRESS_FROM = 5000

__all__ = [
    "FORMATS",
    "Names",
    "ReportQuery",
    "Source",
    "Summary",
    "renderer",
    "write_report",
    "write_report_file",
]


def renderer(
    fmt: str,
    out: TextIO,
    query: ReportQuery,
    sidecar: TextIO | None = None,
    width: int | None = None,
) -> Renderer:
    """`sidecar`: where CSV, which carries rows only, writes its provenance (JSON); `width`:
    the columns the table is laid out for (default: the terminal's, or long lines)."""
    if fmt == "csv":
        from bridge.report.to_csv import CsvRenderer

        return CsvRenderer(out, sidecar)
    if fmt == "json":
        from bridge.report.to_json import JsonRenderer

        return JsonRenderer(out, query)
    if fmt == "md":
        from bridge.report.to_markdown import MarkdownRenderer

        return MarkdownRenderer(out, query)
    if fmt == "html":
        from bridge.report.to_html import HtmlRenderer

        return HtmlRenderer(out, query)
    if fmt == "table":
        from bridge.report.to_table import TableRenderer

        return TableRenderer(out, query, width)
    raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")


def write_report(
    ledger: Ledger,
    query: ReportQuery,
    fmt: str,
    out: TextIO,
    names: Names | None = None,
    *,
    progress: TextIO | None = None,
    source: Source | None = None,
    sidecar: TextIO | None = None,
    width: int | None = None,
) -> Summary:
    """Stream the report to `out`; `progress`: a terminal to show a progress bar on; `source`:
    the config it was made with, for its provenance; `sidecar`: CSV's provenance file;
    `width`: the table's columns (default: the terminal's)."""
    names = names or Names()
    render = renderer(fmt, out, query, sidecar, width)
    collector = Collector(query)
    with ledger.report_reader() as reader:
        _stream(reader, query, names, render, collector, progress)
        user_ids = collector.ic_user_ids if query.users else None
        summary = collector.finish(from_ledger(reader, query, user_ids))
    summary.provenance = Provenance.of(source or Source(), query, collector.grants, render.digest)
    render.finish(summary)
    return summary


def _stream(
    reader: ReportReader,
    query: ReportQuery,
    names: Names,
    render: Renderer,
    collector: Collector,
    progress: TextIO | None,
) -> None:
    """Every row to the renderer and the collector, in order of activation. What the rows are
    joined with is let go on return, before a format draws its plots."""
    index = LedgerIndex.read(reader)
    digests = {}
    if query.activity:
        digests = reader.activity()
        collector.activity = ActivityCollector(reader.activity_totals())
    total = reader.count_grants(query) if progress is not None else 0
    bar = _progress(progress) if total >= PROGRESS_FROM else nullcontext()
    with bar as p:
        task = p.add_task("report", total=total) if p is not None else None
        for n, row in enumerate(iter_rows(reader, query, names, index), 1):
            if query.activity:
                row = with_activity(row, digests.get(row.grant_id))
            collector.add(row)
            render.row(row)
            if p is not None and task is not None and n % 1000 == 0:
                p.update(task, completed=n)


def write_report_file(
    store_url: str,
    path: str | Path,
    config: Config | None = None,
    fmt: str | None = None,
    *,
    activity: bool = False,
    source: Source | None = None,
) -> Summary:
    """The whole ledger's report to a file, the format from its extension (the demo's HTML);
    `activity`: with the digests the ledger holds; `source`: for its provenance."""
    path = Path(path)
    fmt = fmt or EXTENSIONS.get(path.suffix.lower(), "html")
    path.parent.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(store_url)
    try:
        with path.open("w", encoding="utf-8", newline="") as out:
            query = ReportQuery(now=datetime.now(UTC), activity=activity)
            if config is not None:
                query = replace(query, poll_interval=config.schedule.unwatched_every)
            names = Names.from_config(config)
            return write_report(ledger, query, fmt, out, names, source=source or Source.of(config))
    finally:
        ledger.close()


def _progress(stream: TextIO | None) -> Progress:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=stream),
        transient=True,
    )
