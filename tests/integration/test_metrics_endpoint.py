"""`run`'s /healthz and /metrics, scraped over loopback from a Service against the sandbox."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bridge.sandbox.world import World, running_world
from bridge.service import Service
from bridge.wiring import build
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

DOC = Path(__file__).parent.parent.parent / "docs" / "metrics.md"


def documented_metrics() -> set[str]:
    return set(re.findall(r"^\| `(pim_bridge_\w+)` \|", DOC.read_text(), re.MULTILINE))


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[World, Service, str]]:
    with running_world(provisioning=True, scim_activation_delay=0.1, scim_removal_delay=0.2) as w:
        w.export_env()
        svc = Service(build(w.config(f"sqlite:///{tmp_path / 'l.db'}", poll_interval="1s")))
        svc.start()
        try:
            assert svc.http is not None
            yield w, svc, f"http://127.0.0.1:{svc.http.port}"
        finally:
            svc.stop()


def test_metrics_endpoint_shows_every_documented_metric(
    service: tuple[World, Service, str],
) -> None:
    world, svc, url = service
    world.graph.actor().activate(
        world.entra_users["bob"], world.entra_groups["prod-admin"], timedelta(seconds=2), "x"
    )
    bob = world.ic_users["bob"]
    assert wait_for(lambda: bob in world.ic_members())
    assert wait_for(lambda: bob not in world.ic_members())  # revoked at the end
    svc.refresh_health()  # pick up the SCIM lag samples now rather than in 5 minutes

    text = httpx.get(url + "/metrics").text
    documented = documented_metrics()
    assert len(documented) >= 9
    for name in documented:
        assert f"# HELP {name} " in text, name
    assert re.search(r'pim_bridge_expiry_days\{credential="entra.app.secret"\} 1[12]\.', text)
    # prod-admin grants the group and an account assignment: two expiry removals.
    assert 'pim_bridge_changes_applied_total{op="remove",reason="expired"} 2.0' in text
    assert "pim_bridge_revocation_latency_seconds_count 2.0" in text
    assert 'pim_bridge_scim_lag_seconds_count{direction="activation"} 1.0' in text
    assert "pim_bridge_leader 1.0" in text


def test_healthz_is_ready_after_a_cycle_and_503_without_a_recent_one(
    service: tuple[World, Service, str],
) -> None:
    world, svc, url = service
    reply = httpx.get(url + "/healthz")
    assert reply.status_code == 200
    body = reply.json()
    assert body["live"] is True and body["ready"] is True
    assert body["last_ok_age_seconds"] >= 0

    world.graph.outage(status=500)  # no cycle succeeds from now on, however soon the next
    time.sleep(2)  # and the one in flight, if any, is over
    svc.last_ok = None  # as before the first successful cycle
    reply = httpx.get(url + "/healthz")
    world.graph.restore()  # the service stops between two polls, not in a retry's backoff
    assert reply.status_code == 503 and reply.json()["ready"] is False
