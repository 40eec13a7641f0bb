"""The bridge's own health: `/healthz` through a Graph outage, and `pim-bridge health`'s rows
for its cycles, mappings and session denials, against the sandbox over loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge.cli import main
from bridge.config import config_from_dict
from bridge.sandbox.world import World, _to_toml, running_world
from bridge.service import Service
from bridge.wiring import build
from tests.fakes import FakeClock
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with running_world() as w:
        for k, v in w.env().items():
            monkeypatch.setenv(k, v)
        yield w


def _data(world: World, tmp: Path, **schedule: str) -> dict[str, Any]:
    return world.config_dict(f"sqlite:///{tmp / 'ledger.db'}", **schedule)


def _healthz(url: str) -> tuple[int, dict[str, Any]]:
    reply = httpx.get(url + "/healthz")
    return reply.status_code, reply.json()


def test_healthz_is_not_ready_after_failed_graph_polls_while_expiries_go_on(
    world: World, tmp_path: Path
) -> None:
    data = _data(world, tmp_path, poll_interval="1s")
    data["service"] = {**data["service"], "unready_after_failed_polls": 2}
    svc = Service(build(config_from_dict(data, {})))
    svc.start()
    try:
        assert svc.http is not None
        url = f"http://127.0.0.1:{svc.http.port}"
        assert wait_for(lambda: _healthz(url)[0] == 200, 30)
        actor = world.graph.actor()
        actor.activate(
            world.entra_users["bob"], world.entra_groups["prod-admin"], timedelta(seconds=4), "x"
        )
        actor.close()
        bob = world.ic_users["bob"]
        assert wait_for(lambda: bob in world.ic_members(), 30)

        world.graph.outage(status=500)  # every Graph call fails from now on
        assert wait_for(lambda: _healthz(url)[0] == 503, 30)
        code, body = _healthz(url)
        assert body["live"] is True and body["ready"] is False
        assert body["failed_graph_polls"] >= 2
        # Revocation goes on from the ledger; its cycles do not make the bridge look ready.
        assert wait_for(lambda: bob not in world.ic_members(), 30)
        assert _healthz(url)[0] == 503

        world.graph.restore()
        assert wait_for(lambda: _healthz(url)[0] == 200, 30)
        assert _healthz(url)[1]["failed_graph_polls"] == 0
    finally:
        svc.stop()


def _health(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["health", "-c", str(config), *extra])
    return code, capsys.readouterr().out


def test_health_with_nothing_to_check_says_so_and_exits_1(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "pim-bridge.toml"
    config.write_text(_to_toml(_data(world, tmp_path)))
    code, out = _health(config, capsys)
    assert code == 1
    assert out.rstrip().endswith("nothing checked (exit 1)")
    assert "healthy" not in out


def test_health_shows_the_last_pim_read_unreadable_mappings_and_denial_headroom(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Graph and the bridge share a clock 20 minutes behind: the story ends at the real now.
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20))
    with running_world(graph_clock=clock) as world:
        for k, v in world.env().items():
            monkeypatch.setenv(k, v)
        data = _data(world, tmp_path)
        config = tmp_path / "pim-bridge.toml"
        config.write_text(_to_toml(data))
        _story(world, data, clock)
        code, out = _health(config, capsys, "--format", "json")
        checks = {c["name"]: c for c in json.loads(out)["checks"]}
        code, table = _health(config, capsys)

    assert code == 1
    cycle = checks["bridge.cycle"]
    # The expiry judged from the ledger alone just now does not count as a read of PIM.
    assert cycle["state"] == "warning" and cycle["detail"] == "poll, 1 group read"
    assert cycle["figures"]["last_read_age_seconds"] > 19 * 60
    mappings = checks["bridge.mappings"]
    assert (mappings["state"], mappings["value"]) == ("warning", "1 mapping unreadable")
    assert mappings["detail"] == "breakglass"
    headroom = checks[f"bridge.denials.{world.permission_set_name}"]
    assert headroom["state"] == "ok" and headroom["figures"]["in_force"] == 1
    assert headroom["figures"]["headroom"] > 30  # an empty inline policy holds 37
    assert all(len(line) <= 100 for line in table.splitlines()), table
    assert f"bridge.denials.{world.permission_set_name}" in table


def _story(world: World, data: dict[str, Any], clock: FakeClock) -> None:
    """alice activates and is mirrored; she deactivates while breakglass cannot be read, and is
    removed and denied; 20 minutes later an expiry cycle runs from the ledger alone."""
    bridge = build(config_from_dict(data, {}), clock=clock)
    actor = world.graph.actor()
    alice, group = world.entra_users["alice"], world.entra_groups["prod-admin"]
    try:
        actor.activate(alice, group, timedelta(hours=1), "x")
        clock.advance(2)
        assert bridge.reconciler.cycle(kind="sync", read_aws=True).exit_code == 0
        actor.deactivate(alice, group)
        world.graph.outage(world.entra_groups["breakglass"], status=500)
        clock.advance(5)
        bridge.reconciler.cycle(kind="poll")
        clock.set(datetime.now(UTC))
        bridge.reconciler.expire()
    finally:
        actor.close()
        bridge.close()
