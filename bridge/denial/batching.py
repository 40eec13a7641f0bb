"""Read-merge-write of one policy's denial statements, serialised per policy: concurrent
expiry cycles must not lose each other's statements, and whoever holds a policy's lock writes
every denial queued for it meanwhile, in one write and one enforcement."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from bridge.denial.policy import Denial, MalformedPolicy, merge_denials
from bridge.errors import BridgeError, SinkError
from bridge.ports import Clock, PolicyTarget
from bridge.words import plural

log = logging.getLogger(__name__)


@dataclass
class DenialReport:
    written: list[tuple[str, list[str]]] = field(default_factory=list)  # (ps arn, accounts)
    problems: list[str] = field(default_factory=list)
    unarmed: set[str] = field(default_factory=set)  # armings that did not fit (see Merge)


@dataclass
class Pending:
    users: dict[str, set[str]]  # user -> accounts to provision
    denials: list[Denial]
    disarm: set[str] = field(default_factory=set)
    block: set[str] = field(default_factory=set)  # users denied whatever their sessions' age
    unblock: set[str] = field(default_factory=set)
    ok: bool = False
    error: BridgeError | None = None
    unarmed: set[str] = field(default_factory=set)


class PolicyWrites:
    """Thread-safe: one per Revoker."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._guard = threading.Lock()
        self._policy_locks: dict[str, threading.Lock] = {}
        self._pending: dict[str, list[Pending]] = defaultdict(list)

    def write(
        self,
        target: PolicyTarget,
        mine: Pending,
        report: DenialReport,
        now: datetime | None = None,
    ) -> bool:
        """False when the policy is full and nothing could be written."""
        # Read-merge-write of one policy: concurrent expiry cycles must not lose each other's
        # statements.
        with self._guard:
            lock = self._policy_locks.setdefault(target.name, threading.Lock())
            self._pending[target.name].append(mine)
        with lock:
            # Whoever holds the lock writes every denial queued meanwhile, in one write and
            # one provisioning per account: a burst of expiries costs a few writes, not one
            # each. A caller whose denial another wrote gets that write's outcome.
            with self._guard:
                batch = self._pending.pop(target.name, [])
            if batch:
                merged: dict[str, set[str]] = defaultdict(set)
                denials: list[Denial] = []
                disarm: set[str] = set()
                blocks: tuple[set[str], set[str]] = (set(), set())
                for entry in batch:
                    for user, accounts in entry.users.items():
                        merged[user] |= accounts
                    denials.extend(entry.denials)
                    disarm |= entry.disarm
                    blocks[0].update(entry.block)
                    blocks[1].update(entry.unblock)
                try:
                    ok, unarmed = self._merge_into(
                        target, merged, denials, disarm, report, now, blocks
                    )
                except BridgeError as exc:
                    for entry in batch:
                        entry.error = exc
                else:
                    for entry in batch:
                        entry.ok = ok
                        entry.unarmed = {d.ic_user_id for d in entry.denials} & unarmed
        if mine.error is not None:
            raise mine.error
        if not mine.ok and not report.problems:
            report.problems.append(f"policy {target.name} is full: denial not written")
        return mine.ok

    def _merge_into(
        self,
        target: PolicyTarget,
        users: dict[str, set[str]],
        denials: list[Denial],
        disarm: set[str],
        report: DenialReport,
        now: datetime | None = None,
        blocks: tuple[set[str], set[str]] = (set(), set()),
    ) -> tuple[bool, set[str]]:
        duration = target.session_duration()
        now = now or self.clock.now()
        try:
            merged = merge_denials(
                target.read(),
                denials,
                now,
                duration,
                target.limit,
                disarm=disarm,
                block=blocks[0],
                unblock=blocks[1],
            )
        except MalformedPolicy as exc:
            # Left exactly as it is: a rewrite would damage someone else's statements.
            raise SinkError(
                f"policy {target.name} is not a policy document the bridge can rewrite "
                f"safely ({exc}): denial not written, the policy left as it is",
                temporary=False,
            ) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise SinkError(
                f"policy {target.name} is not valid JSON: {exc}", temporary=False
            ) from None
        if merged.overflow:
            report.problems.append(
                f"policy {target.name} is full: {plural(len(users), 'denial')} not written"
            )
            log.error("policy %s is full: session denial NOT written", target.name)
            return False, set()
        if merged.unarmed:
            log.info(
                "policy %s: %s not armed for want of room; denied at removal instead",
                target.name,
                plural(len(merged.unarmed), "denial"),
            )
        if not merged.changed and not blocks[0]:
            return True, set(merged.unarmed)
        if merged.coalesced:
            log.warning("policy %s near its limit: denials coalesced", target.name)
        if merged.changed:
            target.write(merged.document)
        # A block is enforced even when already written: an earlier revoke's provisioning may
        # have failed, and running it again is how that is mended.
        accounts = sorted({a for accts in users.values() for a in accts})
        target.enforce(accounts)
        report.written.append((target.name, accounts))
        return True, set(merged.unarmed)
