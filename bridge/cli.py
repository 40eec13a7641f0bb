"""The `pim-bridge` command: parses, calls, prints. Every behaviour is one hop from here."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from bridge import __version__
from bridge.config import DEFAULT_PATH, Config, load_config
from bridge.errors import BridgeError, ConfigError
from bridge.logs import LogFormat, configure

if TYPE_CHECKING:
    # argparse's own name for what add_subparsers returns.
    Verbs = argparse._SubParsersAction[argparse.ArgumentParser]

EXIT_OK, EXIT_PARTIAL, EXIT_CONFIG = 0, 1, 2

# What `sandbox` suggests running against the config it wrote; -c follows the verb.
SANDBOX_NEXT = "pim-bridge sync -c {path}"

DESCRIPTION = """\
Mirror Microsoft Entra PIM for Groups activations into AWS IAM Identity Center, revoke at the
expiry second, and deny AWS sessions issued before the revocation.

Start with `pim-bridge demo` (no Azure or AWS account needed), then copy
config.example.toml to pim-bridge.toml, run `pim-bridge check-config`, and
`pim-bridge sync --dry-run` to see what the bridge would change."""

# The one table of exit codes, for every verb: README.md and docs/runbook.md carry it word for word.
EXIT_CODES = """Exit codes (every command):
  0  ok: everything decided was applied; every check passed (check-config, health)
  1  something held back, failed or warned, each named in the output: a removal held
     by the safety brake or withheld, a change that failed, a session denial that found
     no room; a check-config or health warning; report filters that match no grant
  2  config or usage error, one line naming the key or option and the reason; an
     endpoint check-config cannot reach or that refuses the credential; another process
     already writes to the store; the store or an output file cannot be opened, read or
     written (health: a critical check)"""


def _verb(
    sub: Verbs, name: str, summary: str, description: str, *examples: str
) -> argparse.ArgumentParser:
    """A verb whose --help teaches: what it does, how it is typed, what its exit code means."""
    shown = "\n".join(f"  {line}" for line in examples)
    return sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog=f"Example:\n{shown}\n\n{EXIT_CODES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        metavar="PATH",
        default=None,
        help=f"config file (default: $PIM_BRIDGE_CONFIG or ./{DEFAULT_PATH})",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log every change and finding (-vv: debug lines and the libraries' own)",
    )
    _log_format_arg(parser, argparse.SUPPRESS)


def _log_format_arg(parser: argparse.ArgumentParser, default: str | None) -> None:
    # Accepted before or after the command; after it, given only when typed there.
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=default,
        help="log lines as text or one JSON object per line (default: service.log_format)",
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="pim-bridge",
        description=DESCRIPTION,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    root.add_argument("--version", action="version", version=f"pim-bridge {__version__}")
    _log_format_arg(root, None)
    sub = root.add_subparsers(dest="verb", metavar="COMMAND", required=True)
    _sandbox_verbs(sub)
    _bridge_verbs(sub)
    _incident_verbs(sub)
    _reading_verbs(sub)
    return root


def _sandbox_verbs(sub: Verbs) -> None:
    demo = _verb(
        sub,
        "demo",
        "run the scripted story on a local sandbox (exit 0 if every expectation held)",
        "Start a Graph PIM simulator and moto's AWS server on 127.0.0.1, seed a tenant, run "
        "the bridge through activation, early deactivation, expiry, overlap, an unknown user "
        "and a throttled Graph, and print the timeline with measured latencies.",
        "pim-bridge demo --out out    # then open out/report.html",
    )
    demo.add_argument("--out", metavar="DIR", default="out", help="where to write the demo files")
    demo.add_argument("-v", "--verbose", action="store_true", help="show the bridge's log")

    sandbox = _verb(
        sub,
        "sandbox",
        "run the sandbox servers in the foreground and write a config pointing at them",
        "Start the Graph PIM simulator and moto's AWS server on 127.0.0.1, seed a small "
        "tenant, write a config file for it and wait (Ctrl-C stops). It prints the "
        "environment to export in another shell, and the commands to try there.",
        "pim-bridge sandbox --write-config sandbox.toml",
        f"{SANDBOX_NEXT.format(path='sandbox.toml')}    # in another shell, after the exports",
    )
    sandbox.add_argument(
        "--write-config",
        metavar="PATH",
        default="sandbox.toml",
        help="where to write the config for the sandbox (default: sandbox.toml)",
    )
    sandbox.add_argument("--graph-port", type=int, default=0, help="0 = any free port")


def _bridge_verbs(sub: Verbs) -> None:
    run = _verb(
        sub,
        "run",
        "the long-running service: watch and poll, revoke at expiry, drift sweep",
        "Watch the mapped groups' membership every schedule.watch_interval and read those that "
        "changed, poll PIM every schedule.poll_interval, revoke each grant at its end second, "
        "sweep drift every schedule.drift_interval, and serve /healthz and /metrics on "
        "service.listen. SIGTERM or Ctrl-C stops it gracefully.",
        "pim-bridge run -c /etc/pim-bridge/pim-bridge.toml",
    )
    _config_arg(run)

    sync = _verb(
        sub,
        "sync",
        "one reconcile cycle, printing the plan (+ add, - remove, with reasons)",
        "Read PIM and Identity Center once, print the plan like `terraform plan`, and apply "
        "it; with --dry-run, only print it. Each removal held back or withheld, each change "
        "that failed and each denial that found no room is named.",
        "pim-bridge sync --dry-run -c pim-bridge.toml",
    )
    _config_arg(sync)
    sync.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")

    check = _verb(
        sub,
        "check-config",
        "validate the config, reach every endpoint, check every mapping (exit 0, 1 warn, 2)",
        "Validate the config file, reach Microsoft Graph, Identity Center and the store, then "
        "check every mapping: its Entra group exists and PIM for Groups answers for it, its "
        "Identity Center group, permission sets and accounts resolve, and what it would "
        "do that you may not expect (members the bridge did not add, activations longer "
        "than the permission set's session). One line per check, with names.",
        "pim-bridge check-config -c pim-bridge.toml",
    )
    _config_arg(check)


def _incident_verbs(sub: Verbs) -> None:
    from bridge import incident_command as incident

    verbs = (
        (
            "revoke",
            "incident: deny a user's sessions now, remove their access, block them",
            incident.REVOKE_DESCRIPTION,
            incident.revoke_arguments,
        ),
        (
            "unblock",
            "lift a revoke's block: the user is granted again",
            incident.UNBLOCK_DESCRIPTION,
            incident.unblock_arguments,
        ),
    )
    for name, summary, description, arguments in verbs:
        verb = sub.add_parser(name, help=summary, description=description)
        _config_arg(verb)
        arguments(verb)


def _reading_verbs(sub: Verbs) -> None:
    health = _verb(
        sub,
        "health",
        "SCIM job and lag, SCIM token, app credential expiry (exit 0 ok, 1 warn, 2 critical)",
        "One row per check with its value, threshold and state: the SCIM provisioning job, "
        "SCIM lag p50/p95 per grant, the SCIM token (probe and expiry), the bridge's app "
        "secrets and certificates, the SAML signing certificate, and the bridge's own state "
        "from the store: its last read of PIM, held removals, unreadable mappings, room left "
        "for session denials. Thresholds from [health]. Exit 0 healthy, 1 warning or unknown "
        "or nothing checked, 2 critical.",
        "pim-bridge health --format json -c pim-bridge.toml",
    )
    _config_arg(health)
    health.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="table for a person (default), json for a monitoring system",
    )

    status = sub.add_parser(
        "status",
        help="who holds what now, from the ledger alone (table or json)",
        description="Every holding with the PIM grant behind it (user, mapping, group or "
        "permission set and account, since, until, time left, PIM instance), the removals "
        "still to come (the safety brake, failing removals), holdings whose mapping left the "
        "config, and the session denials armed or in force. Reads only the ledger and the "
        "config: no Graph or AWS call. Exit 0; 1 when --user or --mapping matches nothing.",
    )
    _config_arg(status)
    status.add_argument("--user", metavar="NAME", help="UPN, its name before @, or an id")
    status.add_argument("--mapping", metavar="NAME", help="mapping name")
    status.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="table for a person (default), json for a script (docs/status-and-notifications.md)",
    )

    from bridge.report.command import DESCRIPTION as REPORT_DESCRIPTION
    from bridge.report.command import add_arguments as report_arguments

    report = _verb(
        sub,
        "report",
        "the audit report: one row per grant, anomalies first (table, csv, json, md, html)",
        REPORT_DESCRIPTION,
        "pim-bridge report --since 7d --mapping prod-admin -o report.html",
    )
    _config_arg(report)
    report_arguments(report)


def _load(args: argparse.Namespace) -> Config:
    config = load_config(args.config)
    if args.log_format is None and config.service.log_format != "text":
        _logging(args, config.service.log_format)
    return config


def _logging(args: argparse.Namespace, fmt: LogFormat) -> None:
    verbosity = int(getattr(args, "verbose", 0) or 0)
    if os.environ.get("PIM_BRIDGE_VERBOSE") == "1":
        verbosity = max(verbosity, 1)
    configure(verbosity, fmt, quiet=args.verb != "run")


def cmd_sync(args: argparse.Namespace) -> int:
    from bridge.leader import writer_lock
    from bridge.render import print_cycle
    from bridge.wiring import build

    config = _load(args)
    # A dry run writes nothing; a real one is a writer, and there is only ever one.
    with writer_lock(config.store.url, enabled=not args.dry_run):
        bridge = build(config)
        try:
            result = bridge.reconciler.cycle(kind="sync", dry_run=args.dry_run, read_aws=True)
            bridge.announce(result)
            print_cycle(result, bridge.reconciler.labels, sys.stdout)
            return result.exit_code
        finally:
            bridge.close()


def cmd_check_config(args: argparse.Namespace) -> int:
    from bridge.check import check_config

    return check_config(_load(args), sys.stdout)


def cmd_run(args: argparse.Namespace) -> int:
    from bridge.service import run_service

    return run_service(_load(args))


def cmd_demo(args: argparse.Namespace) -> int:
    from bridge.sandbox.demo import run_demo

    return run_demo(out_dir=args.out, verbose=args.verbose)


def cmd_sandbox(args: argparse.Namespace) -> int:
    from bridge.sandbox.foreground import serve

    return serve(args.write_config, graph_port=args.graph_port)


def cmd_report(args: argparse.Namespace) -> int:
    from bridge.report.command import run

    return run(args, _load)


def cmd_revoke(args: argparse.Namespace) -> int:
    from bridge.incident_command import run_revoke

    return run_revoke(args, _load)


def cmd_unblock(args: argparse.Namespace) -> int:
    from bridge.incident_command import run_unblock

    return run_unblock(args, _load)


def cmd_health(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from bridge.health import print_health, run_health
    from bridge.store import Ledger

    config = _load(args)
    ledger = Ledger(config.store.url)
    try:
        report = run_health(config, ledger, datetime.now(UTC))
    finally:
        ledger.close()
    print_health(report, args.format, sys.stdout)
    return report.exit_code


def cmd_status(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from bridge.status import StatusFilter, show_status

    f = StatusFilter(user=args.user, mapping=args.mapping)
    return show_status(_load(args), f, args.format, datetime.now(UTC), sys.stdout, sys.stderr)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "sync": cmd_sync,
    "check-config": cmd_check_config,
    "run": cmd_run,
    "demo": cmd_demo,
    "sandbox": cmd_sandbox,
    "health": cmd_health,
    "report": cmd_report,
    "status": cmd_status,
    "revoke": cmd_revoke,
    "unblock": cmd_unblock,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    _logging(args, args.log_format or "text")
    try:
        return COMMANDS[args.verb](args)
    except ConfigError as exc:
        print(f"pim-bridge: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except BridgeError as exc:
        print(f"pim-bridge: {exc}", file=sys.stderr)
        return EXIT_PARTIAL
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        # A file the command had to open or write: a directory, a full disk, a missing folder.
        where = f" {exc.filename}" if exc.filename else ""
        print(f"pim-bridge: cannot use{where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_CONFIG
    except Exception as exc:
        from bridge.store import store_failure

        why = store_failure(exc)
        if why is None:
            raise
        print(f"pim-bridge: store error (store.url): {why}", file=sys.stderr)
        return EXIT_CONFIG
