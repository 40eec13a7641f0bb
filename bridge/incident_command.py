"""`pim-bridge revoke` and `pim-bridge unblock`: the arguments, the writer's lock, the output."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TextIO

from bridge.config import Config

if TYPE_CHECKING:
    from bridge.incident import Incident, Outcome

REVOKE_DESCRIPTION = (
    "Incident response for one user, in this order: deny every AWS session of theirs at once "
    "on every permission set through which the bridge holds them (or in the SCP), with no "
    "issue-time bound; remove every membership and assignment the bridge made for them; end "
    "their live grants as revoked, by whom (--actor, default the OS user) and why (--reason); "
    "block them, so no cycle grants them again until `pim-bridge unblock`. --in-entra also "
    "ends their PIM activations in Entra (needs PrivilegedAssignmentSchedule.ReadWrite."
    "AzureADGroup). One writer only: run beside no service, it takes the writer's lock and "
    "does it itself; while a service leads the store, the request goes through the ledger to "
    "that leader, which performs it within a second, and its outcome is printed the same way "
    "(--wait: not taken in time, it is cancelled, exit 1). Exit 0 done, 1 a step failed (each "
    "named), 2 an unknown user or mapping."
)
UNBLOCK_DESCRIPTION = (
    "Lift a revoke's block: the open-ended denials become ordinary denials of the sessions "
    "issued before now (re-provisioned), and cycles grant the user again. A user who is not "
    "blocked is said so, exit 0. While a service leads the store, the leader does it, as for "
    "revoke."
)


def revoke_arguments(parser: argparse.ArgumentParser) -> None:
    _user(parser)
    parser.add_argument("--mapping", metavar="NAME", help="only what this mapping grants")
    parser.add_argument("--reason", metavar="TEXT", help="why, recorded with the revoked grants")
    parser.add_argument(
        "--actor", metavar="NAME", default=None, help="who runs it (default: the OS user)"
    )
    parser.add_argument(
        "--in-entra", action="store_true", help="also end their PIM activations in Entra"
    )
    parser.add_argument(
        "--deny-only",
        action="store_true",
        help="deny on every permission set of the mappings (or --mapping) that could grant "
        "them, even where the bridge holds nothing",
    )


def unblock_arguments(parser: argparse.ArgumentParser) -> None:
    _user(parser)


def _user(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--user",
        required=True,
        metavar="USER",
        help="user principal name / Identity Center user name",
    )
    parser.add_argument(
        "--wait",
        type=_seconds,
        default=60.0,
        metavar="SECONDS",
        help="while a service leads the store: how long to wait for it to perform the request "
        "(default 60); not taken by then, it is cancelled and nothing is done (exit 1)",
    )


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value < 86_400:
        raise argparse.ArgumentTypeError(f"not a number of seconds under a day: {text!r}")
    return value


def run_revoke(args: argparse.Namespace, load: Callable[[argparse.Namespace], Config]) -> int:
    from bridge.incident import RevokeRequest

    request = RevokeRequest(
        user=args.user,
        actor=args.actor or getpass.getuser(),
        reason=args.reason,
        mapping=args.mapping,
        in_entra=args.in_entra,
        deny_only=args.deny_only,
    )
    print(f"revoke {request.user} (by {request.actor}: {request.reason or 'no reason given'})")
    verb = Verb("revoke", asdict(request), lambda incident: incident.revoke(request))
    return _run(load(args), verb, _wait(args))


def run_unblock(args: argparse.Namespace, load: Callable[[argparse.Namespace], Config]) -> int:
    verb = Verb("unblock", {"user": args.user}, lambda incident: incident.unblock(args.user))
    return _run(load(args), verb, _wait(args))


@dataclass(frozen=True)
class Verb:
    """One incident verb: its name and arguments as the ledger keeps them (for the leader), and
    how this process performs it directly."""

    name: str
    request: dict[str, Any]
    perform: Callable[[Incident], Outcome]


def _run(config: Config, verb: Verb, wait: timedelta) -> int:
    from bridge.leader import StoreLed, writer_lock

    # One writer only: the same lock `sync` takes. While a service leads the store, the
    # request goes to it through the ledger and it performs it.
    try:
        with writer_lock(config.store.url):
            outcome = _direct(config, verb)
    except StoreLed:
        return _relayed(config, verb, wait)
    print_outcome(outcome.done, outcome.failed, sys.stdout)
    return outcome.exit_code


def _direct(config: Config, verb: Verb) -> Outcome:
    from bridge.incident import Incident
    from bridge.wiring import build

    bridge = build(config)
    try:
        return verb.perform(Incident(bridge))
    finally:
        bridge.close()  # what the revoke has to tell gets the webhook's timeout to leave


def _relayed(config: Config, verb: Verb, wait: timedelta) -> int:
    from bridge.errors import ConfigError
    from bridge.incident_relay import hand_to_leader
    from bridge.store import Ledger

    print(f"  a service leads the store: handed to it, waiting up to {wait.total_seconds():g}s")
    ledger = Ledger(config.store.url)
    try:
        told = hand_to_leader(ledger, verb.name, verb.request, wait)
    finally:
        ledger.close()
    if told.error is not None:
        key, _, reason = told.error.partition(": ")
        raise ConfigError(key, reason)  # the leader found a usage error: said as ours (exit 2)
    print_outcome(told.done, told.failed, sys.stdout)
    return told.exit_code


def _wait(args: argparse.Namespace) -> timedelta:
    return timedelta(seconds=args.wait)


def print_outcome(done: Sequence[str], failed: Sequence[str], out: TextIO) -> None:
    for line in done:
        out.write(f"  {line}\n")
    for line in failed:
        out.write(f"  FAILED {line}\n")
