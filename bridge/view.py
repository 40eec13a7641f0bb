"""The bridge's view of PIM's grants and of its own holdings, kept in memory beside the ledger,
so that a cycle over a few changed groups reads none of the ledger's tens of thousands of rows.

It stays the ledger's: loaded from it at start and at every full poll, and after each write the
bridge makes through it, the rows that write touched are read back from the ledger rather than
worked out here, so the ledger's rules (a failed addition kept unconfirmed, a revived grant, a
moved end) stay in one place. What could make it wrong drops it, and the next read loads it
again: a write that raised (fenced, or the database failing) and leadership taken (another
replica may have written meanwhile). Other processes write the ledger only while no service
leads it (`bridge.leader.writer_lock`), and a new leader takes leadership first.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from bridge.model import Binding, Change, Finding, Grant, GrantVerdicts, Plan, Scope
from bridge.plan import Actual, binding_of
from bridge.ports import ADDING, BlockedName, HeldBinding, Ledger

GrantKey = tuple[str, str, str, str]  # (mapping, PIM instance id, principal id, target key)
Holdings = dict[Binding, HeldBinding]
T = TypeVar("T")


@dataclass(frozen=True)
class Within:
    """A scoped cycle's part of the view: the mappings it read, and their targets."""

    keys: frozenset[str]
    mappings: frozenset[str]

    @classmethod
    def of(cls, mappings: Collection[str], scope: Scope) -> Within:
        keys = frozenset(k for m in mappings for k in scope.targets_of.get(m, ()))
        return cls(keys, frozenset(mappings))


def read_actual(
    view: ViewedLedger,
    now: datetime,
    aws_holders: Mapping[str, frozenset[str]] | None = None,
    within: Within | None = None,
) -> Actual:
    """The one builder of `Actual`, for every cycle: all of the view, or a scoped cycle's part
    of it. Only the ends of held bindings no live grant covers, and the blocked users (a
    handful each), are read from the ledger."""
    holdings, grants = view.everything() if within is None else view.within(within)
    held = frozenset(holdings)
    covered = {binding_of(g) for g in grants if g.live_at(now)}
    candidates = [b for b in held if b not in covered]
    past = view.last_ends(candidates) if candidates else {}
    unconfirmed = frozenset(b for b, h in holdings.items() if h.state == ADDING)
    blocked = {user: b.user_name for user, b in view.blocked().items()}
    return Actual(held, dict(aws_holders or {}), grants, past, unconfirmed, blocked)


def named_removals(decided: Plan, view: ViewedLedger, within: Within | None) -> Plan:
    """A scoped plan names a removed user from the grants it saw; one whose live grants are all
    elsewhere is named from the rest of the view, as a full poll would name them."""
    if within is None or all(c.user_name or c.op != "remove" for c in decided.changes):
        return decided
    named = tuple(
        c
        if c.user_name or c.op != "remove"
        else replace(c, user_name=view.name_of(c.binding.ic_user_id))
        for c in decided.changes
    )
    return replace(decided, changes=named)


def grant_key(grant: Grant) -> GrantKey:
    return (grant.mapping, grant.source_instance_id, grant.user.principal_id, grant.target.key)


class Memory:
    """Live grants and holdings, indexed by target, mapping and PIM instance."""

    def __init__(self, holdings: Mapping[Binding, HeldBinding], grants: Iterable[Grant]) -> None:
        self._held: Holdings = {}
        self._held_at: dict[str, set[Binding]] = defaultdict(set)
        self._grants: dict[GrantKey, Grant] = {}
        self._granted_at: dict[str, set[GrantKey]] = defaultdict(set)
        self._of_mapping: dict[str, set[GrantKey]] = defaultdict(set)
        self._of_instance: dict[str, set[GrantKey]] = defaultdict(set)
        for binding, held in holdings.items():
            self.hold(binding, held)
        for g in grants:
            self._add(g)

    def hold(self, binding: Binding, held: HeldBinding | None) -> None:
        if held is None:
            self._held.pop(binding, None)
            self._held_at[binding.target_key].discard(binding)
        else:
            self._held[binding] = held
            self._held_at[binding.target_key].add(binding)

    def regrant(self, instance_ids: Collection[str], live: Iterable[Grant]) -> None:
        """These instances' live grants are now `live`, and only those."""
        for key in [k for i in instance_ids for k in self._of_instance.get(i, ())]:
            g = self._grants.pop(key)
            for index, name in self._indexes(g):
                index[name].discard(key)
        for g in live:
            self._add(g)

    def _add(self, g: Grant) -> None:
        key = grant_key(g)
        self._grants[key] = g
        for index, name in self._indexes(g):
            index[name].add(key)

    def _indexes(self, g: Grant) -> list[tuple[dict[str, set[GrantKey]], str]]:
        return [
            (self._granted_at, g.target.key),
            (self._of_mapping, g.mapping),
            (self._of_instance, g.source_instance_id),
        ]

    def everything(self) -> tuple[Holdings, tuple[Grant, ...]]:
        return dict(self._held), tuple(self._grants.values())

    def within(
        self, keys: Collection[str], mappings: Collection[str]
    ) -> tuple[Holdings, tuple[Grant, ...]]:
        """What planning `mappings` over their target `keys` needs: every grant and holding on
        those targets, whichever mapping made it (a target two mappings share keeps the other's
        holders), and on the targets of these mappings' grants that their mapping no longer
        names (orphans, ended or carried by the same rules as in a full poll)."""
        near = set(keys)
        for m in mappings:
            near.update(self._grants[k].target.key for k in self._of_mapping.get(m, ()))
        wanted = {k for t in near for k in self._granted_at.get(t, ())}
        # In the ledger's order, as a full read gives them.
        grants = tuple(g for k, g in self._grants.items() if k in wanted)
        held = {b: self._held[b] for t in near for b in self._held_at.get(t, ())}
        return held, grants

    def principals(self) -> dict[tuple[str, str, str], str]:
        return {
            (g.source_instance_id, g.user.principal_id, g.user.name): g.user.ic_user_id
            for g in self._grants.values()
        }

    def name_of(self, ic_user_id: str) -> str | None:
        names = [g.user.name for g in self._grants.values() if g.user.ic_user_id == ic_user_id]
        return names[-1] if names else None


class ViewedLedger:
    """The Ledger port, with the view kept beside it: every call goes to the ledger, and the
    writes that change grants or holdings are read back into the view."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._memory: Memory | None = None
        self._lock = threading.RLock()

    # -- the view ----------------------------------------------------------------------------

    def reload(self) -> None:
        """Read every live grant and holding again (start, every full poll)."""
        with self._lock:
            self._memory = None
            self._memory = Memory(self.ledger.holdings(), self.ledger.live_grants())

    def forget(self) -> None:
        with self._lock:
            self._memory = None

    def everything(self) -> tuple[Holdings, tuple[Grant, ...]]:
        return self._read(lambda m: m.everything())

    def within(self, part: Within) -> tuple[Holdings, tuple[Grant, ...]]:
        return self._read(lambda m: m.within(part.keys, part.mappings))

    def name_of(self, ic_user_id: str) -> str | None:
        return self._read(lambda m: m.name_of(ic_user_id))

    def live_principals(self) -> Mapping[tuple[str, str, str], str]:
        with self._lock:
            if self._memory is None:
                # Before the first load (a start's poll loads it just after): not twice.
                return self.ledger.live_principals()
            return self._memory.principals()

    def _read(self, fn: Callable[[Memory], T]) -> T:
        with self._lock:
            if self._memory is None:
                self.reload()
            assert self._memory is not None
            return fn(self._memory)

    def _write(self, write: Callable[[], T], back: Callable[[Memory], None] | None = None) -> T:
        """A write to the ledger, and what it changed read back into the view, as one step
        under the view's lock: no read of the view, and no other write through it, comes in
        between (an in-memory SQLite ledger shares one connection between threads). A write or
        a read-back that raised leaves the view unknown: it is dropped."""
        with self._lock:
            try:
                out = write()
                if back is not None and self._memory is not None:
                    back(self._memory)
            except BaseException:
                self._memory = None
                raise
            return out

    def _holding_back(self, binding: Binding) -> Callable[[Memory], None]:
        return lambda m: m.hold(binding, self.ledger.holding(binding))

    # -- writes ---------------------------------------------------------------------------------

    def take_leadership(self, holder: str, now: datetime) -> int:
        epoch = self._write(lambda: self.ledger.take_leadership(holder, now))
        self.forget()  # another leader may have written meanwhile
        return epoch

    def record_verdicts(self, verdicts: GrantVerdicts, now: datetime) -> None:
        changed = {
            g.source_instance_id for g in (*verdicts.new, *(m.grant for m in verdicts.moved))
        } | {e.grant.source_instance_id for e in verdicts.ended}

        def back(m: Memory) -> None:
            if changed:
                m.regrant(changed, self.ledger.live_grants_of(changed))

        self._write(lambda: self.ledger.record_verdicts(verdicts, now), back)

    def record_intent(self, cycle_id: int | None, change: Change, now: datetime) -> int:
        back = self._holding_back(change.binding) if change.op == "add" else None
        return self._write(lambda: self.ledger.record_intent(cycle_id, change, now), back)

    def record_outcome(
        self,
        change_id: int,
        change: Change,
        now: datetime,
        error: str | None = None,
        *,
        unsettled: bool = False,
    ) -> None:
        self._write(
            lambda: self.ledger.record_outcome(change_id, change, now, error, unsettled=unsettled),
            self._holding_back(change.binding),
        )

    def confirm(self, binding: Binding) -> None:
        self._write(lambda: self.ledger.confirm(binding), self._holding_back(binding))

    def release(self, binding: Binding) -> None:
        self._write(lambda: self.ledger.release(binding), self._holding_back(binding))

    def start_cycle(self, kind: str, now: datetime) -> int:
        return self._write(lambda: self.ledger.start_cycle(kind, now))

    def finish_cycle(
        self, cycle_id: int, now: datetime, status: str, summary: dict[str, Any]
    ) -> None:
        self._write(lambda: self.ledger.finish_cycle(cycle_id, now, status, summary))

    def mark_interrupted(self, now: datetime) -> int:
        return self._write(lambda: self.ledger.mark_interrupted(now))

    def record_findings(
        self, cycle_id: int | None, found: Sequence[Finding], now: datetime
    ) -> None:
        self._write(lambda: self.ledger.record_findings(cycle_id, found, now))

    def record_denials(
        self,
        at: datetime,
        permission_set_arn: str,
        users: dict[str, set[str]],
        status: str,
        done_at: datetime | None,
        detail: str | None = None,
    ) -> None:
        self._write(
            lambda: self.ledger.record_denials(
                at, permission_set_arn, users, status, done_at, detail
            )
        )

    # -- reads, from the ledger --------------------------------------------------------

    def live_grants(self) -> list[Grant]:
        return self.ledger.live_grants()

    def live_grants_of(self, instance_ids: Iterable[str]) -> list[Grant]:
        return self.ledger.live_grants_of(instance_ids)

    def last_ends(self, bindings: Iterable[Binding]) -> Mapping[Binding, datetime | None]:
        return self.ledger.last_ends(bindings)

    def due_mappings(self, now: datetime) -> set[str]:
        return self.ledger.due_mappings(now)

    def next_expiries(self) -> list[datetime]:
        return self.ledger.next_expiries()

    def ends_within(self, now: datetime, until: datetime) -> Mapping[Binding, datetime]:
        return self.ledger.ends_within(now, until)

    def holdings(self) -> Mapping[Binding, HeldBinding]:
        return self.ledger.holdings()

    def holding(self, binding: Binding) -> HeldBinding | None:
        return self.ledger.holding(binding)

    def blocked(self) -> Mapping[str, BlockedName]:
        return self.ledger.blocked()
