"""Observe: PIM schedule instances and the mapping config become the desired Grants.

Resolves each mapping's Identity Center names once (retrying those that fail), reads every
mapped Entra group through the `PimSource` port, and resolves each principal to an Identity
Center user. Nothing here writes: the plan decides and the cycle applies.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from bridge.config import Config, MappingConfig
from bridge.errors import SinkError
from bridge.model import (
    AccountAssignment,
    Finding,
    Grant,
    GroupMembership,
    Scope,
    Target,
    User,
)
from bridge.ports import GroupRead, IdentityCenter, PimInstance, PimSource

log = logging.getLogger(__name__)

# (PIM instance id, principal id, matched name) -> Identity Center user id of live grants.
KnownPrincipals = Callable[[], Mapping[tuple[str, str, str], str]]


@dataclass
class Observation:
    grants: list[Grant] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    read: set[str] = field(default_factory=set)  # mappings whose PIM state is known
    unreadable: set[str] = field(default_factory=set)
    # Read, but with items that could not be parsed: one of them may be a live instance, so
    # nobody of the mapping counts as deactivated this cycle (new instances are still mirrored).
    partial: set[str] = field(default_factory=set)
    # PIM instance id -> PIM's own time of the request that ended it early (GroupRead.ended).
    ended: dict[str, datetime] = field(default_factory=dict)
    groups_read: int = 0  # Entra groups Graph answered for

    @property
    def unknown(self) -> set[str]:
        """Mappings whose grants the plan must carry from the ledger this cycle."""
        return self.unreadable | self.partial


@dataclass(frozen=True)
class _Resolution:
    """A mapping's names as Identity Center resolved them."""

    targets: tuple[Target, ...]
    labels: dict[str, str]
    not_owned: frozenset[str]  # its group keys that are not bridge-owned


class Desired:
    """The mapping config resolved against Identity Center, and PIM read through it."""

    def __init__(
        self,
        config: Config,
        source: PimSource,
        identity_center: IdentityCenter,
        known: KnownPrincipals,
        *,
        workers: int = 10,
    ) -> None:
        self.config = config
        self.source = source
        self.identity_center = identity_center
        self.known = known
        self.workers = workers
        self._resolved: dict[str, tuple[Target, ...]] = {}
        # Mapping name -> (config key, why). A name that does not resolve (a renamed group, a
        # throttled lookup) costs that mapping its new grants, never anyone's expiry.
        self.unresolved: dict[str, tuple[str, SinkError]] = {}
        self.labels: dict[str, str] = {}  # target key -> the name the config used
        # Group keys a drift = "remove" mapping names that are not bridge-owned: nobody the
        # bridge did not add is removed from them.
        self._not_owned: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    # -- resolution ----------------------------------------------------------------------

    def targets(self) -> dict[str, tuple[Target, ...]]:
        """Mapping name -> resolved targets, for the mappings that resolve. Resolved names are
        kept; those that failed are tried again on every call."""
        with self._lock:
            for i, m in enumerate(self.config.mappings):
                if m.name not in self._resolved:
                    got = self._resolve(i, m)
                    if isinstance(got, _Resolution):
                        self._take(m.name, got)
                        # Replaced, not updated: `scope()` reads it without the lock.
                        self._not_owned = self._not_owned | got.not_owned
                    else:
                        self._fail(m.name, got)
            return dict(self._resolved)

    def refresh(self) -> None:
        """Resolve every mapping's names again (the drift sweep does, so a group renamed in
        Identity Center, or another given its name, is followed within one sweep and the
        directory's lookup cache), and read again which groups are bridge-owned. A name that
        no longer resolves leaves its mapping unresolved: no new grants there, its ledger
        grants kept to their ends. A lookup that fails for a while (throttled, an outage)
        keeps what was resolved: that is no rename."""
        # Looked up outside the lock, which the expiry job's `scope()` takes.
        fresh = [(m.name, self._resolve(i, m)) for i, m in enumerate(self.config.mappings)]
        with self._lock:
            not_owned: set[str] = set()
            for name, got in fresh:
                if isinstance(got, _Resolution):
                    self._take(name, got)
                    not_owned |= got.not_owned
                elif got[1].temporary and name in self._resolved:
                    not_owned |= self._not_owned & {t.key for t in self._resolved[name]}
                else:
                    self._resolved.pop(name, None)
                    self._fail(name, got)
            self._not_owned = frozenset(not_owned)

    def _take(self, name: str, got: _Resolution) -> None:
        self.unresolved.pop(name, None)
        self._resolved[name] = got.targets
        self.labels.update(got.labels)

    def _fail(self, name: str, failure: tuple[str, SinkError]) -> None:
        if name not in self.unresolved:
            log.warning("mapping %s unresolved: %s: %s", name, *failure)
        self.unresolved[name] = failure

    def _resolve(self, index: int, mapping: MappingConfig) -> _Resolution | tuple[str, SinkError]:
        """One mapping's names looked up, or the config key that failed and why."""
        ts: list[Target] = []
        labels: dict[str, str] = {}
        key = f"mappings[{index}].identity_center_group"
        not_owned: set[str] = set()
        try:
            if mapping.identity_center_group:
                group = GroupMembership(
                    self.identity_center.resolve_group(mapping.identity_center_group)
                )
                ts.append(group)
                labels[group.key] = mapping.identity_center_group
                # Read only where it decides something: a removal of members it did not add.
                if mapping.drift == "remove" and not self.identity_center.group_owned(
                    group.group_id
                ):
                    not_owned.add(group.key)
            for j, a in enumerate(mapping.assignments):
                key = f"mappings[{index}].assignments[{j}].permission_set"
                arn = self.identity_center.resolve_permission_set(a.permission_set)
                ts.append(AccountAssignment(a.account_id, arn))
                labels[ts[-1].key] = f"{a.permission_set.rsplit('/', 1)[-1]} @ {a.account_id}"
        except SinkError as exc:
            return key, exc
        return _Resolution(tuple(ts), labels, frozenset(not_owned))

    def scope(self, unknown: Iterable[str] = ()) -> Scope:
        """What the bridge may touch this cycle. `unknown` mappings (unreadable, partly read,
        unresolved) keep the ledger's grants until their own ends. Uses the names resolved so
        far and calls nothing: the expiry job must not wait on Identity Center lookups."""
        targets = self._resolved_now()
        modes: dict[str, set[str]] = defaultdict(set)
        for m in self.config.mappings:
            for t in targets.get(m.name, ()):
                modes[t.key].add(m.drift)
        remove = frozenset(k for k, v in modes.items() if v == {"remove"})
        not_owned = remove & self._not_owned
        return Scope(
            managed=frozenset(modes),
            drift_remove=remove - not_owned,
            not_owned=not_owned,
            unreadable=frozenset(unknown) | (self._names() - targets.keys()),
            targets_of={n: frozenset(t.key for t in ts) for n, ts in targets.items()},
            max_removals=self.config.safety.max_removals_per_cycle,
            mappings=self._names(),
            permanent_ok=frozenset(m.name for m in self.config.mappings if m.include_permanent),
            labels=dict(self.labels),
        )

    def _resolved_now(self) -> dict[str, tuple[Target, ...]]:
        with self._lock:
            return dict(self._resolved)

    def _names(self) -> frozenset[str]:
        return frozenset(m.name for m in self.config.mappings)

    # -- observe -------------------------------------------------------------------------

    def observe(
        self, only: Collection[str] | None = None, *, deadline: float | None = None
    ) -> Observation:
        """Read PIM for every mapping (or the `only` ones: then nothing is said of the rest,
        and nothing is resolved again)."""
        obs = Observation()
        targets = self.targets() if only is None else self._resolved_now()
        for name, (key, exc) in sorted(self.unresolved.items()):
            if only is None:
                obs.unreadable.add(name)
                obs.findings.append(Finding("unresolved_mapping", f"{key}: {exc}", name))
        mappings = [
            m
            for m in self.config.mappings
            if m.name in targets and (only is None or m.name in only)
        ]
        group_ids = sorted({m.entra_group_id for m in mappings})
        reads = self.source.read_groups(group_ids, deadline=deadline) if group_ids else {}
        obs.groups_read = sum(1 for r in reads.values() if r.ok)
        users = self._resolve_users(reads)
        for m in mappings:
            read = reads.get(m.entra_group_id) or GroupRead(m.entra_group_id, error="not read")
            for why in read.skipped:
                obs.findings.append(Finding("bad_payload", why, m.name))
            if not read.ok:
                obs.unreadable.add(m.name)
                obs.findings.append(
                    Finding("unreadable_group", f"group {m.entra_group_id}: {read.error}", m.name)
                )
                continue
            obs.ended.update(read.ended)
            try:
                obs.grants.extend(self._grants_for(m, read, targets[m.name], obs.findings, users))
                (obs.partial if read.skipped else obs.read).add(m.name)
            except SinkError as exc:
                # A lookup that failed is not "no such user": treat the mapping as unknown.
                obs.unreadable.add(m.name)
                obs.findings.append(
                    Finding("unreadable_group", f"user lookup failed: {exc}", m.name)
                )
        return obs

    def _resolve_users(self, reads: Mapping[str, GroupRead]) -> dict[str, str | BaseException]:
        """Identity Center user id (or the lookup's failure) per matched attribute value.

        A principal whose instance the ledger already holds a live grant for keeps the id
        resolved when that grant was made: a warm poll of 20,000 grants then makes no AWS read,
        and a restart does not look every user up again (20,000 GetUserId calls are 1,000 s at
        Identity Center's 20 calls/s). New instances are looked up in parallel, so a burst of
        activations is bound by the API rate, not by one call's round trip."""
        attr_in = self.config.matching.entra_attribute
        attr_ic = self.config.matching.identity_center_attribute
        known = self.known()
        out: dict[str, str | BaseException] = {}
        todo: set[str] = set()
        for read in reads.values():
            for inst in read.instances:
                value = inst.principal.get(attr_in)
                if not value or value in out:
                    continue
                ic_id = known.get((inst.id, inst.principal_id, value))
                if ic_id is not None:
                    out[value] = ic_id
                else:
                    todo.add(value)
        todo -= out.keys()

        def look_up(value: str) -> str | BaseException | None:
            try:
                return self.identity_center.find_user_id(attr_ic, value)
            except SinkError as exc:
                return exc

        if todo:
            ordered = sorted(todo)
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                for value, found in zip(ordered, pool.map(look_up, ordered), strict=True):
                    if found is not None:
                        out[value] = found
        return out

    def _grants_for(
        self,
        m: MappingConfig,
        read: GroupRead,
        targets: tuple[Target, ...],
        found: list[Finding],
        users: Mapping[str, str | BaseException],
    ) -> list[Grant]:
        out: list[Grant] = []
        attr_in = self.config.matching.entra_attribute
        attr_ic = self.config.matching.identity_center_attribute
        for inst in _distinct(read.instances, m, found):
            if not _counts(m, inst, found):
                continue
            if inst.member_type == "group" or inst.principal_type != "user":
                found.append(Finding("nested_group", _not_a_user(m, inst), m.name))
                continue
            value = inst.principal.get(attr_in)
            ic_id = users.get(value) if value else None
            if isinstance(ic_id, BaseException):
                raise ic_id
            if ic_id is None:
                # Named as Graph knows them (the principal expanded on the instance), so the
                # finding says who without a lookup; only a principal Graph names not at all is
                # left as its id.
                who = value or _principal_name(inst)
                detail = f"{who}: no Identity Center user with {attr_ic} = {value!r}"
                found.append(Finding("unresolved_user", detail, m.name))
                continue
            user = User(inst.principal_id, value or inst.principal_id, ic_id)
            out.extend(_grant(user, t, inst, m.name) for t in targets)
        return out


def _grant(user: User, target: Target, inst: PimInstance, mapping: str) -> Grant:
    return Grant(
        user,
        target,
        inst.start,
        inst.end,
        inst.id,
        mapping,
        inst.justification,
        inst.ticket,
        inst.approver,
        inst.ticket_system,
    )


def _principal_name(inst: PimInstance) -> str:
    p = inst.principal
    return p.get("userPrincipalName") or p.get("displayName") or f"{inst.principal_id} (unresolved)"


def _not_a_user(mapping: MappingConfig, inst: PimInstance) -> str:
    what = inst.principal.get("displayName") or inst.principal_id
    if inst.principal_type == "unknown":
        return (
            f"principal {what} in group {mapping.entra_group_id} has no @odata.type: "
            "not granted (a principal is a user only when Graph says so)"
        )
    return (
        f"{inst.principal_type} {what} in group {mapping.entra_group_id} ({inst.member_type}): "
        "transitive members are not mirrored"
    )


def _counts(mapping: MappingConfig, inst: PimInstance, found: list[Finding]) -> bool:
    if inst.access_id != mapping.access:
        return False
    if inst.assignment_type == "activated":
        if inst.end is None:
            # PIM activations always end; one without an end is a malformed payload, and
            # granting it would make it permanent.
            who = inst.principal.get("userPrincipalName") or inst.principal_id
            detail = f"activated instance {inst.id} of {who} has no endDateTime: not granted"
            found.append(Finding("bad_payload", detail, mapping.name))
            return False
        return True
    return inst.assignment_type == "assigned" and mapping.include_permanent


def _distinct(
    instances: Iterable[PimInstance], m: MappingConfig, found: list[Finding]
) -> list[PimInstance]:
    """One instance per id and principal. Graph listing the same id twice (a page repeated, a
    bad payload) is reported; the copy that grants longest wins, so access does not flip with
    their order. Two principals under one id are two grants, each reported."""
    by_id: dict[tuple[str, str], PimInstance] = {}
    principals: dict[str, str] = {}
    for inst in instances:
        if principals.setdefault(inst.id, inst.principal_id) != inst.principal_id:
            detail = f"instance {inst.id} listed for more than one principal"
            finding = Finding("duplicate_instance", detail, m.name)
            if finding not in found:
                found.append(finding)
        key = (inst.id, inst.principal_id)
        seen = by_id.get(key)
        if seen is None:
            by_id[key] = inst
            continue
        if seen != inst:
            detail = f"instance {inst.id} listed twice with different contents"
            finding = Finding("duplicate_instance", detail, m.name)
            if finding not in found:
                found.append(finding)
        if _longer(inst, seen):
            by_id[key] = inst
    return list(by_id.values())


def _longer(first: PimInstance, second: PimInstance) -> bool:
    if first.end is None or second.end is None:
        return first.end is None and second.end is not None
    return first.end > second.end
