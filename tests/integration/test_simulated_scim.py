"""The sandbox's Entra SCIM provisioning on Entra's documented timing, time-compressed: what a
demo shows beside the bridge must look like Entra, and say it is simulated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bridge.sandbox.graph.provisioning import ProvisioningService
from bridge.sandbox.graph.provisioning_timing import EntraTiming
from bridge.sandbox.graph.sandbox import GraphSandbox
from bridge.sandbox.graph.scim import ScimServer
from tests.fakes import FakeClock

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
COMPRESSION = 60  # 2-10 min become 2-10 s, the 40-min cycle 40 s


def test_simulated_scim_exports_five_changes_within_minutes_and_the_rest_at_the_cycle() -> None:
    clock = FakeClock(T0)
    with GraphSandbox(clock=clock) as graph, ScimServer() as scim:
        group = graph.add_group("prod")
        users = {
            graph.add_user(f"u{n}@contoso.test", f"User {n}"): f"u{n}@contoso.test"
            for n in range(7)
        }
        for uid in users:
            graph.add_eligibility(uid, group)
        timing = EntraTiming(COMPRESSION, T0)
        prov = ProvisioningService(graph, scim, {group: "PIM-prod"}, users, timing=timing).seed()
        actor = graph.actor()
        for uid in users:
            actor.activate(uid, group, timedelta(hours=1), "burst")
        assert prov.step() == 0  # seven changes noticed at once

        clock.set(T0 + timedelta(seconds=2) - timedelta(milliseconds=1))
        assert prov.step() == 0  # nothing sooner than 2 min / 60
        clock.set(T0 + timedelta(seconds=10))
        assert prov.step() == 5  # the first five, within 10 min / 60
        clock.set(T0 + timedelta(seconds=39))
        assert prov.step() == 0
        clock.set(T0 + timedelta(seconds=40))
        assert prov.step() == 2  # the rest at the next 40-min cycle / 60
        assert "time-compressed 60x" in timing.describe()
        assert "simulated" in timing.describe()
