"""The demo's last act: an incident. erin still holds access when her account is thought
stolen; `pim-bridge revoke` refuses her live session within seconds, and the next cycle does not
give her access back although PIM still lists her activation."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from bridge.config import Config
from bridge.incident import Incident, RevokeRequest
from bridge.leader import writer_lock
from bridge.sandbox.world import ACCOUNT_PROD, World
from bridge.wiring import build

# What an incident's revoke promises (README): every older session refused within 2 s.
REVOKE_BUDGET = 2.0


def final_incident(
    world: World, config: Config, say: Callable[[str], None], expect: Callable[[bool, str], None]
) -> None:
    """Run with the service stopped: revoke takes the writer's lock like any one-shot writer."""
    aws, erin = world.aws, world.ic_users["erin"]
    session = aws.issue_session(erin, world.permission_set_arn, ACCOUNT_PROD, datetime.now(UTC))
    say("erin's laptop is reported stolen; her AWS session is live")
    refused: list[float] = []
    start = time.monotonic()

    def watch() -> None:
        while aws.is_allowed(session) and time.monotonic() - start < 30:
            time.sleep(0.05)
        refused.append(time.monotonic() - start)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with writer_lock(config.store.url):
        bridge = build(config)
        try:
            request = RevokeRequest(world.upn("erin"), "demo-oncall", "laptop reported stolen")
            outcome = Incident(bridge).revoke(request)
            say(f"pim-bridge revoke --user {world.upn('erin')}: {len(outcome.done)} steps done")
            watcher.join(REVOKE_BUDGET + 3)
            took = refused[0] if refused else None
            expect(
                took is not None and took <= REVOKE_BUDGET and not outcome.failed,
                f"erin's live session is refused {took or float('inf'):.1f}s after the revoke "
                f"(budget {REVOKE_BUDGET:.0f}s)",
            )
            result = bridge.reconciler.cycle(kind="sync")
        finally:
            bridge.close()
    blocked = [f for f in result.findings if f.kind == "blocked"]
    expect(
        erin not in world.ic_members() and erin not in world.ic_assigned() and bool(blocked),
        "the next cycle gives erin nothing back, though PIM still lists her activation: "
        + (blocked[0].detail if blocked else "no finding"),
    )
