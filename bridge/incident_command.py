"""`pim-bridge revoke` and `pim-bridge unblock`: the arguments, the writer's lock, the output."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

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
    "AzureADGroup). Holds the writer's lock: refused while a service leads the store. Exit 0 "
    "done, 1 a step failed (each named), 2 an unknown user or mapping, or the store is led."
)
UNBLOCK_DESCRIPTION = (
    "Lift a revoke's block: the open-ended denials become ordinary denials of the sessions "
    "issued before now (re-provisioned), and cycles grant the user again. A user who is not "
    "blocked is said so, exit 0."
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
    return _run(load(args), lambda incident: incident.revoke(request))


def run_unblock(args: argparse.Namespace, load: Callable[[argparse.Namespace], Config]) -> int:
    return _run(load(args), lambda incident: incident.unblock(args.user))


def _run(config: Config, verb: Callable[[Incident], Outcome]) -> int:
    from bridge.incident import Incident
    from bridge.leader import writer_lock
    from bridge.wiring import build

    # One writer only: the same lock `sync` takes, refused while a service leads the store.
    with writer_lock(config.store.url):
        bridge = build(config)
        try:
            outcome = verb(Incident(bridge))
        finally:
            bridge.close()
    print_outcome(outcome, sys.stdout)
    return outcome.exit_code


def print_outcome(outcome: Outcome, out: TextIO) -> None:
    for line in outcome.done:
        out.write(f"  {line}\n")
    for line in outcome.failed:
        out.write(f"  FAILED {line}\n")
