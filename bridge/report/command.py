"""`pim-bridge report`: the arguments and the glue between them and `write_report`."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bridge.config import Config

if TYPE_CHECKING:
    from bridge.report import Names, Source, Summary
    from bridge.report.query import ReportQuery
    from bridge.store import Ledger

DESCRIPTION = (
    "One row per grant from the ledger: user, mapping, targets, the events from activation to "
    "revocation with measured latencies, justification, ticket and approver. Anomalies (access "
    "that outlived its end, failed revocations, drift, unresolved users, withheld removals, "
    "denials not written) are listed first and counted in the summary. Times are UTC. "
    "--since/--until take a duration before now (30m, 7d) or an ISO date or date-time. "
    "--activity first reads the CloudTrail logs of [activity] the ledger has not digested yet, "
    "then shows what each grant was used for and whether calls after its end were refused."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from bridge.report import FORMATS

    parser.add_argument("--since", metavar="WHEN", help="e.g. 7d, 30m, 2024-05-01 (default: all)")
    parser.add_argument("--until", metavar="WHEN", help="as --since (default: now)")
    parser.add_argument(
        "--user",
        action="append",
        metavar="NAME",
        help="UPN, its name before @, "
        "or an Entra or Identity Center id (repeat or comma-separate for several)",
    )
    parser.add_argument(
        "--group",
        action="append",
        metavar="GROUP",
        help="Entra group id (needs the config), Identity Center group id or name",
    )
    parser.add_argument("--mapping", action="append", metavar="NAME", help="mapping name")
    parser.add_argument(
        "--account", action="append", metavar="ID", help="AWS account id (assignment rows)"
    )
    parser.add_argument(
        "--format", choices=FORMATS, default=None, help="default: from the -o extension, else table"
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    parser.add_argument(
        "--revoke-target",
        metavar="DURATION",
        help="access revoked later than this after its end is an anomaly (default 2s, the "
        "bridge's promise; after a deactivation, one poll interval more)",
    )
    parser.add_argument(
        "--activity",
        action="store_true",
        help="digest each grant's CloudTrail calls from [activity] cloudtrail_bucket first, and "
        "show them (needs the config)",
    )
    parser.add_argument(
        "--store",
        metavar="URL",
        help="read this ledger (store.url) without a config file; names then come "
        "from the ledger alone",
    )


def _query(args: argparse.Namespace) -> ReportQuery:
    """The report's filters from the command line; ValueError names a bad one."""
    from bridge.config_types import parse_duration
    from bridge.report import ReportQuery
    from bridge.report.query import DEFAULT_REVOKE_TARGET, parse_when, split_values

    now = datetime.now(UTC)
    since = parse_when(args.since, now) if args.since else None
    until = parse_when(args.until, now) if args.until else None
    if since is not None and until is not None and since > until:
        raise ValueError(f"--since {args.since} is after --until {args.until}: nothing between")
    return ReportQuery(
        now=now,
        since=since,
        until=until,
        users=split_values(args.user),
        groups=split_values(args.group),
        mappings=split_values(args.mapping),
        accounts=split_values(args.account),
        revoke_target=(
            parse_duration(args.revoke_target) if args.revoke_target else DEFAULT_REVOKE_TARGET
        ),
    )


def run(args: argparse.Namespace, load: Callable[[argparse.Namespace], Config]) -> int:
    from bridge.config import config_path
    from bridge.report import EXTENSIONS, FORMATS, Names, Source
    from bridge.store import open_for_reading

    config: Config | None = None
    if args.store is None or args.config is not None:
        config = load(args)
    url = args.store or (config.store.url if config else "")
    try:
        query = _query(args)
    except ValueError as exc:
        return _refused(str(exc))
    if config is not None:
        query = replace(query, poll_interval=config.schedule.unwatched_every)
    if args.activity and (config is None or not config.activity.enabled):
        return _refused("--activity needs a config with [activity] cloudtrail_bucket")
    if args.output and _is_the_ledger(args.output, url):
        # Opening it for writing would truncate the very ledger the report reads.
        return _refused(f"-o {args.output} is the ledger itself (store.url)")
    fmt = args.format or _format_of(args.output)
    if fmt is None:
        return _refused(
            f"-o {args.output}: no format has that extension; name one with "
            f"--format ({', '.join(FORMATS)}) or end the file in {', '.join(EXTENSIONS)}, .txt"
        )
    ledger = open_for_reading(url)
    status = 0
    try:
        _warn_if_empty(ledger)
        if args.activity and config is not None:
            status = _digest(config, ledger, query)
            query = replace(query, activity=status == 0)
        try:
            source = Source.of(config, config_path(args.config) if config else None)
            summary = _write(args.output, fmt, ledger, query, Names.from_config(config), source)
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
    if summary.data.grants == 0 and _filters(args):
        print(f"pim-bridge report: no grant matches {_filters(args)}", file=sys.stderr)
        status = max(status, 1)
    if args.output:
        from bridge.report.text import counted

        grants = counted(summary.data.grants, "grant")
        found = counted(len(summary.anomalies), "anomaly", "anomalies")
        print(f"report: {grants}, {found} -> {args.output}")
    return status


def _digest(config: Config, ledger: Ledger, query: ReportQuery) -> int:
    """Digest the report's grants' CloudTrail calls; 1 (with one line saying why) when the
    trail or Identity Center cannot be read, and the report then goes without activity."""
    from bridge.activity.job import digest_activity
    from bridge.activity.objects import TrailUnreadable
    from bridge.activity.targets import LedgerGrant
    from bridge.errors import BridgeError

    with ledger.report_reader() as reader:
        grants = [LedgerGrant.of(g) for g in reader.grants(query)]
    try:
        result = digest_activity(config, ledger, grants, query.now)
    except (TrailUnreadable, BridgeError) as exc:
        print(f"pim-bridge report: {exc}; the report has no activity", file=sys.stderr)
        return 1
    print(result.line(), file=sys.stderr)
    return 0


def _write(
    output: str | None,
    fmt: str,
    ledger: Ledger,
    query: ReportQuery,
    names: Names,
    source: Source,
) -> Summary:
    """CSV's provenance goes beside the file (`FILE.provenance.json`), or to standard error
    for standard output; nowhere for an output that is no regular file (a device, a pipe)."""
    from bridge.report import write_report

    with contextlib.ExitStack() as files:
        out: TextIO = sys.stdout
        if output:
            out = files.enter_context(open(output, "w", encoding="utf-8", newline=""))
        sidecar: TextIO | None = None
        if fmt == "csv":
            sidecar = None if output else sys.stderr
            if output and os.path.isfile(output):
                beside = open(f"{output}.provenance.json", "w", encoding="utf-8")  # noqa: SIM115
                sidecar = files.enter_context(beside)
        live_rows = out.isatty() and fmt in ("csv", "json")
        progress = sys.stderr if sys.stderr.isatty() and not live_rows else None
        return write_report(
            ledger, query, fmt, out, names, progress=progress, source=source, sidecar=sidecar
        )


def _format_of(output: str | None) -> str | None:
    """The format the file's extension names; table for stdout, .txt or no extension, None for
    an extension no format has (a .pdf must not silently be a text table)."""
    from bridge.report import EXTENSIONS

    suffix = Path(output or "").suffix.lower()
    return {**EXTENSIONS, ".txt": "table", "": "table"}.get(suffix)


def _filters(args: argparse.Namespace) -> str:
    """The filters that pick grants, as typed: what a report with no row names."""
    given = [
        f"--{flag} {','.join(values)}"
        for flag in ("user", "group", "mapping", "account")
        if (values := getattr(args, flag))
    ]
    return " ".join(given)


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
