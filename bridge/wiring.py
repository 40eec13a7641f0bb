"""Builds the real adapters from a Config. The one place that knows which class serves which
port, so the CLI stays thin and tests can swap any edge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property

from bridge.announce import Announcer
from bridge.clockwatch import ClockWatch
from bridge.config import Config
from bridge.denial.writer import Revoker
from bridge.graph.client import GraphSession, RetryPolicy
from bridge.graph.delta import GraphMembershipFeed
from bridge.graph.source import GraphPimSource
from bridge.health import Check
from bridge.identity_center.adapter import AwsIdentityCenter
from bridge.identity_center.client import make_client_factory
from bridge.identity_center.scp import ScpTarget
from bridge.model import AccountAssignment, Reason
from bridge.notify import WebhookSender, webhook_check
from bridge.ports import Clock, SystemClock
from bridge.reconcile import CycleResult, Reconciler
from bridge.revoke import SessionDenial
from bridge.store import Ledger
from bridge.watch import MembershipWatch


@dataclass
class Bridge:
    config: Config
    source: GraphPimSource
    ic: AwsIdentityCenter
    ledger: Ledger
    clock: Clock
    reconciler: Reconciler
    revoker: Revoker | None = None
    notifier: WebhookSender | None = None
    watcher: MembershipWatch | None = None
    graph: GraphSession | None = None  # the Graph session the readers share, if built here

    def announce(self, result: CycleResult) -> None:
        """Hand the cycle's notices to the sender's queue (after one ledger read of the ends of
        the expired removals, to tell those that outlived their end); returns at once."""
        if self.notifier is None:
            return
        expired = [c.binding for c in result.applied if c.reason is Reason.EXPIRED]
        ends = self.ledger.last_ends(expired) if expired else {}
        self._announcer.after(result, self.clock.now(), ends)

    def webhook_check(self) -> Check:
        """The webhook's health: a warning while notices are given up, never more."""
        stats = self.notifier.stats if self.notifier else None
        return webhook_check(self.config.notify, stats)

    @cached_property
    def _announcer(self) -> Announcer:
        assert self.notifier is not None
        return Announcer(self.notifier, lambda: self.reconciler.labels)

    def close(self) -> None:
        if self.notifier is not None:
            # What a last cycle had to tell gets a post's timeout to leave.
            self.notifier.close(drain=self.config.notify.timeout.total_seconds())
        self.ledger.close()
        close = getattr(self.source, "close", None)
        if close is not None:
            close()
        if self.graph is not None:
            self.graph.close()


def build(config: Config, clock: Clock | None = None) -> Bridge:
    clock = clock or SystemClock()
    graph = GraphSession(config.entra)
    # Three retries (about 7 s of backoff) keep a poll during an outage short; the next poll
    # starts fresh.
    source = GraphPimSource(config.entra, max_retries=3, session=graph)
    ic = AwsIdentityCenter(config.aws)
    ledger = Ledger(config.store.url)
    watcher = None
    if config.schedule.watching:
        feed = GraphMembershipFeed(config.entra, graph, RetryPolicy(max_retries=3))
        watcher = MembershipWatch(feed, ledger, clock)
    watch = ClockWatch(clock)
    revoker = None
    denial = None
    if config.revocation.deny_stale_sessions:
        scp = None
        if config.revocation.mechanism == "scp":
            scp = ScpTarget(
                config.revocation.scp_policy_id,
                make_client_factory(config.aws),
                lambda: _longest_session(reconciler, ic),
            )
        revoker = Revoker(ic, ic.group_assignments, ledger, clock, scp)
        denial = SessionDenial(
            revoker.deny,
            revoker.arm,
            ledger.ends_within,
            watch.bounding(),
            permission_set_name=ic.permission_set_name,
        )
    reconciler = Reconciler(
        config, source, ic, ledger, clock, denial=denial, watch=watch, user_names=ic.user_name
    )
    notifier = WebhookSender(config.notify) if config.notify.enabled else None
    return Bridge(
        config,
        source,
        ic,
        ledger,
        clock,
        reconciler,
        revoker,
        notifier=notifier,
        watcher=watcher,
        graph=graph,
    )


def _longest_session(reconciler: Reconciler, identity_center: AwsIdentityCenter) -> timedelta:
    arns = {
        t.permission_set_arn
        for ts in reconciler.targets().values()
        for t in ts
        if isinstance(t, AccountAssignment)
    }
    # With no permission set in the mapping, keep denials for Identity Center's maximum.
    return max((identity_center.session_duration(a) for a in arns), default=timedelta(hours=12))
