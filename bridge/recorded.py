"""The cycle's side of Identity Center: each change's call between its intent and its outcome in
the ledger, the holders a drift sweep reads, and drift named through the directory."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from bridge import cycle_log
from bridge.errors import BridgeError
from bridge.model import Change, Finding, target_from_key, target_name
from bridge.plan import named_drift
from bridge.ports import Clock, IdentityCenter, Ledger

# An Identity Center user's name from their id (None: no such user).
UserNames = Callable[[str], str | None]
Labels = Mapping[str, str]


class RecordedCalls:
    """Makes one change in Identity Center, recorded before (the intent) and after (the
    outcome): a crash between the two leaves the ledger knowing what may have happened."""

    def __init__(self, identity_center: IdentityCenter, ledger: Ledger, clock: Clock) -> None:
        self.identity_center = identity_center
        self.ledger = ledger
        self.clock = clock

    def call(self, cycle_id: int, change: Change, labels: Labels) -> str | None:
        """The error, or None when the change was made."""
        change_id = self.ledger.record_intent(cycle_id, change, self.clock.now())
        target = change.binding.target
        try:
            if change.op == "add":
                self.identity_center.add(change.binding.ic_user_id, target)
            else:
                self.identity_center.remove(change.binding.ic_user_id, target)
        except BridgeError as exc:
            cycle_log.failed(change, str(exc), labels)
            self.ledger.record_outcome(
                change_id, change, self.clock.now(), error=str(exc), unsettled=exc.unsettled
            )
            return str(exc)
        self.ledger.record_outcome(change_id, change, self.clock.now())
        cycle_log.applied(change, labels)
        return None


def read_holders(
    identity_center: IdentityCenter, keys: Iterable[str], labels: Labels
) -> tuple[dict[str, frozenset[str]], list[Finding]]:
    """Who holds each target now; a target that cannot be read is `withheld`, never empty."""
    holders: dict[str, frozenset[str]] = {}
    found: list[Finding] = []
    for key in sorted(set(keys)):
        target = target_from_key(key)
        try:
            holders[key] = frozenset(identity_center.holders(target))
        except BridgeError as exc:
            what = target_name(target, labels)
            found.append(Finding("withheld", f"could not read {what}: {exc}"))
    return holders, found


def named(found: Iterable[Finding], user_names: UserNames | None) -> list[Finding]:
    """Drift about users no grant named, with their Identity Center names (looked up once
    each: the directory keeps them)."""
    out = []
    for f in found:
        if f.kind == "drift" and f.user is None and f.user_id and user_names:
            try:
                name = user_names(f.user_id)
            except BridgeError:
                name = None
            f = named_drift(f, name) if name else f
        out.append(f)
    return out
