"""Builds the real adapters from a Config. The one place that knows which class serves which
port, so the CLI stays thin and tests can swap any edge."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.config import Config
from bridge.graph.source import GraphPimSource
from bridge.identity_center.adapter import AwsIdentityCenter
from bridge.ledger import Ledger
from bridge.ports import Clock, SystemClock
from bridge.reconcile import Reconciler
from bridge.revoke import Revoker


@dataclass
class Bridge:
    config: Config
    source: GraphPimSource
    ic: AwsIdentityCenter
    ledger: Ledger
    clock: Clock
    reconciler: Reconciler
    revoker: Revoker | None = None

    def close(self) -> None:
        self.ledger.close()
        close = getattr(self.source, "close", None)
        if close is not None:
            close()


def build(config: Config, clock: Clock | None = None) -> Bridge:
    clock = clock or SystemClock()
    # Three retries (about 7 s of backoff) keep a poll during an outage short; the next poll
    # starts fresh.
    source = GraphPimSource(config.entra, max_retries=3)
    ic = AwsIdentityCenter(config.aws)
    ledger = Ledger(config.store.url)
    revoker = (
        Revoker(ic, ic.group_assignments, ledger, clock.now)
        if config.revocation.deny_stale_sessions
        else None
    )
    reconciler = Reconciler(
        config, source, ic, ledger, clock, on_removed=revoker.deny if revoker else None
    )
    return Bridge(config, source, ic, ledger, clock, reconciler, revoker)
