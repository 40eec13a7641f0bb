"""`pim-bridge report`: the arguments and the glue between them and `write_report`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bridge.config import Config

if TYPE_CHECKING:
    from bridge.report import Names, ReportQuery, Summary
    from bridge.store import Ledger

DESCRIPTION = (
    "One row per grant from the ledger: user, mapping, targets, the events from activation to "
    "revocation with measured latencies, justification, ticket and approver. Anomalies (access "
    "that outlived its end, failed revocations, drift, unresolved users, withheld removals, "
    "denials not written) are listed first and counted in the summary. Times are UTC. "
    "--since/--until take a duration before now (30m, 7d) or an ISO date or date-time."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from bridge.report import FORMATS

    p.add_argument("--since", metavar="WHEN", help="e.g. 7d, 30m, 2024-05-01 (default: all)")
    p.add_argument("--until", metavar="WHEN", help="as --since (default: now)")
    p.add_argument(
        "--user",
        action="append",
        metavar="NAME",
        help="UPN, its name before @, "
        "or an Entra or Identity Center id (repeat or comma-separate for several)",
    )
    p.add_argument(
        "--group",
        action="append",
        metavar="GROUP",
        help="Entra group id (needs the config), Identity Center group id or name",
    )
    p.add_argument("--mapping", action="append", metavar="NAME", help="mapping name")
    p.add_argument(
        "--account", action="append", metavar="ID", help="AWS account id (assignment rows)"
    )
    p.add_argument(
        "--format", choices=FORMATS, default=None, help="default: from the -o extension, else table"
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.add_argument(
        "--revoke-target",
        metavar="DURATION",
        default="5s",
        help="access revoked later than this after its end is an anomaly (default 5s)",
    )
    p.add_argument(
        "--store",
        metavar="URL",
        help="read this ledger (store.url) without a config file; names then come "
        "from the ledger alone",
    )


def run(args: argparse.Namespace, load: Callable[[argparse.Namespace], Config]) -> int:
    from bridge.config import parse_duration
    from bridge.report import EXTENSIONS, Names, ReportQuery
    from bridge.report.query import parse_when, split_values
    from bridge.store import open_for_reading

    config: Config | None = None
    if args.store is None or args.config is not None:
        config = load(args)
    url = args.store or (config.store.url if config else "")
    now = datetime.now(UTC)
    try:
        query = ReportQuery(
            now=now,
            since=parse_when(args.since, now) if args.since else None,
            until=parse_when(args.until, now) if args.until else None,
            users=split_values(args.user),
            groups=split_values(args.group),
            mappings=split_values(args.mapping),
            accounts=split_values(args.account),
            revoke_target=parse_duration(args.revoke_target),
        )
    except ValueError as exc:
        return _refused(str(exc))
    fmt = args.format or EXTENSIONS.get(Path(args.output or "").suffix.lower(), "table")
    if args.output and _is_the_ledger(args.output, url):
        # Opening it for writing would truncate the very ledger the report reads.
        return _refused(f"-o {args.output} is the ledger itself (store.url)")
    ledger = open_for_reading(url)
    try:
        _warn_if_empty(ledger)
        try:
            summary = _write(args.output, fmt, ledger, query, Names.from_config(config))
        except BrokenPipeError:
            # `pim-bridge report | head` closed the pipe: the reader has what it wanted.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except OSError as exc:
            return _refused(
                f"cannot write {args.output or 'standard output'}: {exc.strerror or exc}"
            )
    finally:
        ledger.close()
    if args.output:
        n = len(summary.anomalies)
        print(f"report: {summary.data.grants} grants, {n} anomalies -> {args.output}")
    return 0


def _write(
    output: str | None, fmt: str, ledger: Ledger, query: ReportQuery, names: Names
) -> Summary:
    from bridge.report import write_report

    out: TextIO = (
        open(output, "w", encoding="utf-8", newline="")  # noqa: SIM115
        if output
        else sys.stdout
    )
    live_rows = out.isatty() and fmt in ("csv", "json")
    progress = sys.stderr if sys.stderr.isatty() and not live_rows else None
    try:
        return write_report(ledger, query, fmt, out, names, progress=progress)
    finally:
        if out is not sys.stdout:
            out.close()


def _is_the_ledger(output: str, url: str) -> bool:
    """Whether `output` is the ledger's SQLite file, or its journal beside it."""
    from bridge.store import database_name

    database = database_name(url) if url.startswith("sqlite") else None
    if not database or database.startswith((":", "file:")):
        return False
    target = os.path.realpath(output)
    base = os.path.realpath(database)
    if target in {base + suffix for suffix in ("", "-wal", "-shm", "-journal")}:
        return True
    both = os.path.exists(output) and os.path.exists(database)
    return both and os.path.samefile(output, database)


def _refused(why: str) -> int:
    print(f"pim-bridge report: {why}", file=sys.stderr)
    return 2


def _warn_if_empty(ledger: Ledger) -> None:
    if ledger.last_cycle() is None:
        # An empty ledger is more often a mistyped store.url than an idle bridge.
        print(
            "pim-bridge report: the ledger has no cycles yet (is store.url right?)", file=sys.stderr
        )
