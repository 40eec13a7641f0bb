"""Incident response for one user: `revoke` (deny every session at once, remove what the bridge
holds, end the grants, block) and `unblock`.

A revoke denies first, with no `aws:TokenIssueTime` bound, so that every session of the user is
refused before anything else happens; then removes only what the ledger says the bridge holds
(recorded like any change: an intent, an outcome); ends the user's live grants as `revoked`,
by whom and why; and blocks the user, so that no cycle grants them again until `unblock`. With
`in_entra`, their PIM access ends in Entra too. A step that fails is named and the rest go on;
re-running is harmless. The caller holds the writer's right (`bridge.leader.writer_lock`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from bridge.announce import incident_notices
from bridge.denial.writer import Placements, Revoker
from bridge.errors import BridgeError, ConfigError
from bridge.graph.pim_requests import PimAccess, PimRemovals
from bridge.model import Binding, Change, Grant, Reason
from bridge.store import BlockedUser, StoredPlacements
from bridge.wiring import Bridge


@dataclass(frozen=True)
class Person:
    """The user an incident is about: their Identity Center id and the name people know."""

    ic_user_id: str
    name: str


@dataclass(frozen=True)
class RevokeRequest:
    user: str  # user principal name / Identity Center user name
    actor: str
    reason: str | None = None
    mapping: str | None = None
    in_entra: bool = False
    deny_only: bool = False

    @property
    def by(self) -> str:
        """Who, and why when said: "by sec-oncall: phished laptop"."""
        return f"by {self.actor}" + (f": {self.reason}" if self.reason else "")


@dataclass
class Outcome:
    """What was done, one line each, and each step that failed, one line each."""

    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


class Incident:
    """Revoke or unblock one user through the bridge's own ports."""

    def __init__(self, bridge: Bridge, pim: Callable[[], PimRemovals] | None = None) -> None:
        self.bridge = bridge
        self._pim = pim or (lambda: PimRemovals(bridge.config.entra))

    # -- who --------------------------------------------------------------------------------

    def resolve(self, name: str) -> Person:
        """By the ledger's holdings and grants first, then its blocks, then Identity Center's
        GetUserId on the configured matching attribute. Unknown: a usage error (exit 2)."""
        ledger = self.bridge.ledger
        for holding in ledger.holdings().values():
            if holding.user_name == name:
                return Person(holding.binding.ic_user_id, name)
        known = ledger.user_names().get(name) or next(
            (u for u, b in ledger.blocked().items() if b.user_name == name), None
        )
        if known is None:
            attribute = self.bridge.config.matching.identity_center_attribute
            known = self.bridge.ic.find_user_id(attribute, name)
        if known is None:
            raise ConfigError(
                "--user", f"no user {name!r} in the ledger or in Identity Center ({attribute})"
            )
        return Person(known, name)

    # -- revoke -----------------------------------------------------------------------------

    def revoke(self, request: RevokeRequest) -> Outcome:
        person = self.resolve(request.user)
        keys = self._mapping_keys(request.mapping) if request.mapping else None
        held = sorted(b for b in self._held(person) if keys is None or b.target_key in keys)
        grants = [
            g
            for g in self.bridge.ledger.live_grants()
            if g.user.ic_user_id == person.ic_user_id
            and (request.mapping is None or g.mapping == request.mapping)
        ]
        out = Outcome()
        earlier = self.bridge.ledger.blocked().get(person.ic_user_id)
        if not held and not grants and not request.deny_only and earlier is None:
            out.done.append(f"nothing to revoke: the bridge holds nothing for {person.name}")
            return out
        could = self._mapping_keys(request.mapping) if request.deny_only else set()
        # Where an earlier revoke denied is denied again: its provisioning may have failed.
        recorded = earlier.placements if earlier is not None else {}
        placements = self._deny(person, held, could, recorded, out)
        removed = self._remove(person, held, out)
        self._end_grants(person, request, len(grants), out)
        self._block(person, request, placements, out)
        if request.in_entra:
            self._end_in_entra(person, request, grants, out)
        self._tell(person, request, removed)
        return out

    def _deny(
        self,
        person: Person,
        held: list[Binding],
        could: Iterable[str],
        recorded: StoredPlacements,
        out: Outcome,
    ) -> Placements:
        """(a) Every session of the user refused on every policy their access runs through
        (with `--deny-only`, also those of the targets that `could` grant them), each in force
        once its write and provisioning have finished."""
        revoker = self._revoker(out)
        if revoker is None:
            return {}
        bindings = {*held, *(Binding.of(person.ic_user_id, k) for k in could)}
        placements = _union(revoker.placements(bindings), recorded)
        if not placements:
            out.done.append(f"denied: no permission set gives {person.name} access to deny")
        now = self.bridge.clock.now()
        # Every policy at once: each waits on its own provisioning, and the user's sessions
        # are all refused only once the slowest is in force.
        with ThreadPoolExecutor(max_workers=max(1, len(placements))) as pool:
            reports = pool.map(lambda kv: revoker.block({kv[0]: kv[1]}, now), placements.items())
            by_policy = dict(zip(placements, reports, strict=True))
        for name, report in sorted(by_policy.items()):
            where = self._policy(name)
            out.failed.extend(f"deny on {where}: {problem}" for problem in report.problems)
            if not report.problems:
                out.done.append(f"denied: every session of {person.name} on {where}")
        return placements

    def _remove(self, person: Person, held: list[Binding], out: Outcome) -> list[Change]:
        """(b) What the bridge holds for them, recorded like any other change; those removed."""
        changes = [Change("remove", b, Reason.REVOKED, user_name=person.name) for b in held]
        if not changes:
            return []
        result = self.bridge.reconciler.remove_now(changes)
        self.bridge.reconciler.targets()  # resolves the names the lines below print
        labels = self.bridge.reconciler.labels
        out.done.extend(f"removed: {c.render(labels)}" for c in result.applied)
        out.failed.extend(f"remove: {c.render(labels)}: {why}" for c, why in result.failed)
        busy = "another cycle is applying it"
        out.failed.extend(f"remove: {c.render(labels)}: {busy}" for c in result.deferred)
        return list(result.applied)

    def _end_grants(self, person: Person, request: RevokeRequest, live: int, out: Outcome) -> None:
        """(c) Their live grants ended as `revoked`, by whom and why, for the report."""
        if not live:
            return
        now = self.bridge.clock.now()
        ended = self.bridge.ledger.record_revoked(
            person.ic_user_id, request.actor, request.reason, now, request.mapping
        )
        out.done.append(f"recorded: {ended} grant(s) of {person.name} revoked by {request.actor}")

    def _block(
        self, person: Person, request: RevokeRequest, placements: Placements, out: Outcome
    ) -> None:
        """(d) Granted nothing by any cycle until `unblock`."""
        stored = {p: {u: sorted(a) for u, a in users.items()} for p, users in placements.items()}
        block = BlockedUser(
            person.ic_user_id,
            person.name,
            request.actor,
            request.reason,
            self.bridge.clock.now(),
            stored,
        )
        self.bridge.ledger.block(block)
        out.done.append(
            f"blocked: {person.name} is granted nothing until "
            f"`pim-bridge unblock --user {person.name}`"
        )

    def _end_in_entra(
        self, person: Person, request: RevokeRequest, grants: list[Grant], out: Outcome
    ) -> None:
        """Their PIM access ended in Entra too (adminRemove), one request per group."""
        mappings = {m.name: m for m in self.bridge.config.mappings}
        accesses = sorted(
            {
                PimAccess(mappings[g.mapping].entra_group_id, g.user.principal_id, m.access)
                for g in grants
                if (m := mappings.get(g.mapping)) is not None
            },
            key=lambda a: (a.group_id, a.access_id),
        )
        why = f"pim-bridge revoke {request.by}"
        pim = self._pim()
        try:
            for access in accesses:
                group = next(n for n, m in mappings.items() if m.entra_group_id == access.group_id)
                try:
                    pim.end(access, why)
                except BridgeError as exc:
                    out.failed.append(f"entra: {access.access_id} of mapping {group}: {exc}")
                else:
                    what = f"{person.name}'s {access.access_id} access of mapping {group}"
                    out.done.append(f"entra: ended {what}")
        finally:
            pim.close()

    def _tell(self, person: Person, request: RevokeRequest, removed: list[Change]) -> None:
        """The removals and the block, to `[notify]`: handed over once every step is done
        (the sender posts from its own thread; the CLI gives it a bounded time to leave)."""
        notifier = self.bridge.notifier
        if notifier is None:
            return
        labels = self.bridge.reconciler.labels
        now = self.bridge.clock.now()
        notifier.publish(incident_notices(removed, person.name, request.by, labels, now))

    # -- unblock ----------------------------------------------------------------------------

    def unblock(self, user: str) -> Outcome:
        person = self.resolve(user)
        out = Outcome()
        block = self.bridge.ledger.blocked().get(person.ic_user_id)
        if block is None:
            out.done.append(f"{person.name} is not blocked: nothing to do")
            return out
        placements = _union({}, block.placements)
        if placements:
            revoker = self._revoker(out)
            if revoker is None:
                return out
            report = revoker.unblock(placements, self.bridge.clock.now())
            if report.problems:
                out.failed.extend(f"unblock: {p} (still blocked)" for p in report.problems)
                return out
        self.bridge.ledger.unblock(person.ic_user_id)
        out.done.append(
            f"unblocked: {person.name} (blocked since {block.since:%Y-%m-%d %H:%M:%SZ} by "
            f"{block.blocked_by}); sessions issued before now stay denied"
        )
        return out

    # -- helpers ----------------------------------------------------------------------------

    def _revoker(self, out: Outcome) -> Revoker | None:
        if self.bridge.revoker is None:
            out.failed.append(
                "deny: session denial is off ([revocation] deny_stale_sessions = false)"
            )
        return self.bridge.revoker

    def _held(self, person: Person) -> list[Binding]:
        return [b for b in self.bridge.ledger.holdings() if b.ic_user_id == person.ic_user_id]

    def _mapping_keys(self, mapping: str | None) -> set[str]:
        """Target keys of `mapping` (None: of every mapping)."""
        targets = self.bridge.reconciler.targets()
        if mapping is None:
            return {t.key for ts in targets.values() for t in ts}
        if mapping not in {m.name for m in self.bridge.config.mappings}:
            raise ConfigError("--mapping", f"no mapping named {mapping!r}")
        return {t.key for t in targets.get(mapping, ())}

    def _policy(self, name: str) -> str:
        if name.startswith("scp:"):
            return f"the SCP {name[4:]}"
        try:
            return f"permission set {self.bridge.ic.permission_set_name(name)}"
        except BridgeError:
            return name


def _union(placements: Placements, recorded: StoredPlacements) -> dict[str, dict[str, set[str]]]:
    out = {name: {u: set(a) for u, a in users.items()} for name, users in placements.items()}
    for name, users in recorded.items():
        for user, accounts in users.items():
            out.setdefault(name, {}).setdefault(user, set()).update(accounts)
    return out
