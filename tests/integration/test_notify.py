"""Notifications from the running service's cycles to a webhook receiver on loopback, over real
HTTP: the Graph sandbox and moto's server on one hand-moved clock, the receiver on a port of its
own. What is checked is what a channel's readers would see, and that no receiver in trouble ever
holds up a revocation."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bridge.config_notify import NotifyConfig
from bridge.notify import WebhookSender
from bridge.ports import Notice
from bridge.sandbox.receiver import WebhookReceiver, running_receiver
from bridge.sandbox.world import ACCOUNT_PROD, World, running_world
from bridge.service import Service
from bridge.wiring import build
from tests.fakes import FakeClock, VirtualTimers

pytestmark = pytest.mark.integration
MIN = timedelta(minutes=1)
ALL = ["granted", "revoked", "outlived_end", "safety_brake", "unreadable_group", "drift"]


@dataclass
class Rig:
    world: World
    channel: WebhookReceiver
    clock: FakeClock
    tmp: Path

    def service(self, max_removals: int | None = None, **notify: Any) -> Service:
        section = {"webhook_url": self.channel.url, "events": ALL, "backoff": "10ms", **notify}
        config = self.world.config(f"sqlite:///{self.tmp / 'l.db'}", notify=section)
        if max_removals is not None:
            safety = config.safety.model_copy(update={"max_removals_per_cycle": max_removals})
            config = config.model_copy(update={"safety": safety})
        return Service(build(config, clock=self.clock), timers=VirtualTimers(self.clock))

    def activate(self, who: str, minutes: int) -> None:
        w = self.world
        actor = w.graph.actor()
        try:
            actor.activate(w.entra_users[who], w.entra_groups["prod-admin"], minutes * MIN, "x")
        finally:
            actor.close()

    def deactivate(self, who: str) -> None:
        w = self.world
        actor = w.graph.actor()
        try:
            actor.deactivate(w.entra_users[who], w.entra_groups["prod-admin"])
        finally:
            actor.close()

    def member(self, who: str) -> bool:
        return self.world.ic_users[who] in self.world.ic_members()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    with (
        running_receiver() as channel,
        running_world(graph_clock=clock) as world,
        pytest.MonkeyPatch.context() as mp,
    ):
        for k, v in world.env().items():
            mp.setenv(k, v)
        yield Rig(world, channel, clock, tmp_path)


@pytest.mark.parametrize("fmt", ["json", "slack", "teams"])
def test_a_grant_is_delivered_in_the_configured_format(rig: Rig, fmt: str) -> None:
    svc = rig.service(format=fmt)
    try:
        rig.activate("alice", 30)
        rig.clock.advance(2)
        svc.poll()
        got = rig.channel.wait_for(2)
    finally:
        svc.stop()
    assert len(got) == 2  # the group and the account assignment
    assert all(r.path == "/hook/secret-token" for r in got)
    bodies = [r.body for r in got]
    ps = f"{rig.world.permission_set_name} @ {ACCOUNT_PROD}"
    if fmt == "json":
        assert {b["event"] for b in bodies} == {"granted"}
        assert {b["user"] for b in bodies} == {"alice@example.com"}
        assert {b["mapping"] for b in bodies} == {"prod-admin"}
        assert {b["target"] for b in bodies} == {rig.world.ic_group_name, ps}
        assert all(b["at"].endswith("Z") and b["detail"].startswith("granted") for b in bodies)
    elif fmt == "slack":
        for b in bodies:
            assert b["text"].startswith("Access granted: alice@example.com → ")
            assert b["blocks"][0]["type"] == "section"
            assert b["blocks"][0]["text"]["type"] == "mrkdwn"
            assert "*Mapping:* prod-admin" in b["blocks"][1]["text"]["text"]
    else:
        for b in bodies:
            assert b["type"] == "message"
            (attachment,) = b["attachments"]
            assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
            card = attachment["content"]
            assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
            assert card["body"][0] == {
                "type": "TextBlock",
                "text": "Access granted",
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
            }
            facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
            assert facts["User"] == "alice@example.com" and facts["Mapping"] == "prod-admin"


def test_a_receiver_that_is_down_is_retried_then_given_up_and_the_cycle_goes_on(
    rig: Rig,
) -> None:
    rig.channel.fail_next(503, times=1000)
    svc = rig.service(retries=2, events=["granted"])
    try:
        rig.activate("bob", 30)
        rig.clock.advance(2)
        result = svc.poll()
        assert result is not None and result.exit_code == 0
        assert rig.member("bob")  # granted, whatever the webhook does
        # Two notices, three attempts each: then both are given up.
        assert rig.channel.wait_attempts(6) == 6
        notifier = svc.bridge.notifier
        assert notifier is not None
        svc.bridge.notifier.close(drain=5)
        assert (notifier.stats.sent, notifier.stats.failed) == (0, 2)
        scrape = svc.metrics.scrape().decode()
        assert 'pim_bridge_notifications_total{outcome="failed"} 2.0' in scrape
        assert svc.status()["notifications"] == "warning"
        assert svc.status()["ready"] is True
    finally:
        svc.stop()
    assert rig.channel.received == []


def test_a_slow_receiver_does_not_delay_a_removal(rig: Rig) -> None:
    svc = rig.service(events=["granted", "revoked"], timeout="30s")
    rig.channel.hold()  # the receiver takes the first post and answers nothing
    try:
        rig.activate("carol", 10)
        rig.clock.advance(2)
        svc.poll()
        assert rig.channel.wait_attempts(1) == 1 and rig.member("carol")
        rig.clock.advance(10 * 60)
        result = svc.expire()
        # Revoked while the receiver still sits on the notice of the grant.
        assert result is not None and not result.failed and not rig.member("carol")
        assert rig.channel.received == [] and rig.channel.attempts == 1
        rig.channel.release()
        got = rig.channel.wait_for(4)
    finally:
        svc.stop()
    assert [r.body["event"] for r in got] == ["granted", "granted", "revoked", "revoked"]


def test_a_429_waits_as_long_as_its_retry_after_says(rig: Rig) -> None:
    waits: list[float] = []

    def pause(seconds: float) -> bool:
        waits.append(seconds)
        return False

    rig.channel.fail_next(429, retry_after="7")
    config = NotifyConfig.model_validate({"webhook_url": rig.channel.url, "backoff": "10ms"})
    sender = WebhookSender(config, pause=pause)
    try:
        sender.publish([Notice("revoked", datetime.now(UTC), "revoked (expired)", "erin")])
        (got,) = rig.channel.wait_for(1)
    finally:
        sender.close(drain=5)
    assert waits == [7.0]  # Retry-After, not the 10 ms backoff
    assert got.body["user"] == "erin" and rig.channel.attempts == 2
    assert (sender.stats.sent, sender.stats.failed) == (1, 0)


def test_a_full_queue_drops_the_oldest_and_counts_it(rig: Rig) -> None:
    config = NotifyConfig.model_validate({"webhook_url": rig.channel.url, "queue_size": 2})
    sender = WebhookSender(config)
    at = datetime.now(UTC)
    rig.channel.hold()
    try:
        sender.publish([Notice("revoked", at, "first", "u1")])
        rig.channel.wait_attempts(1)  # in flight: out of the queue
        sender.publish([Notice("revoked", at, d, d) for d in ("second", "third", "fourth")])
        rig.channel.release()
        got = rig.channel.wait_for(3)
    finally:
        sender.close(drain=5)
    assert [r.body["detail"] for r in got] == ["first", "third", "fourth"]
    assert (sender.stats.sent, sender.stats.dropped) == (3, 1)


def test_a_held_brake_is_told_once_until_it_clears(rig: Rig) -> None:
    svc = rig.service(events=["safety_brake"], max_removals=1)
    try:
        for who in ("alice", "bob"):
            rig.activate(who, 60)
        rig.clock.advance(2)
        svc.poll()
        for who in ("alice", "bob"):
            rig.deactivate(who)
        for _ in range(3):  # held on every poll: one notice
            rig.clock.advance(15)
            assert svc.poll() is not None and svc.last_result and svc.last_result.held
        assert len(rig.channel.wait_for(1)) == 1
        # The brake clears once the removals are applied; held again later, it is told again.
        rig.activate("alice", 60)
        rig.activate("bob", 60)
        rig.clock.advance(15)
        svc.poll()
        assert svc.last_result is not None and not svc.last_result.held
        for who in ("alice", "bob"):
            rig.deactivate(who)
        rig.clock.advance(15)
        svc.poll()
        got = rig.channel.wait_for(2)
    finally:
        svc.stop()
    assert [r.body["event"] for r in got] == ["safety_brake", "safety_brake"]
    assert "4 removals exceed safety.max_removals_per_cycle = 1" in got[0].body["detail"]


def test_the_webhook_url_is_never_logged(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rig.channel.fail_next(500, times=2)
    rig.channel.fail_next(404)
    svc = rig.service(retries=1, events=["granted"])
    try:
        rig.activate("frank", 30)
        rig.clock.advance(2)
        svc.poll()
        rig.channel.wait_attempts(3)
        assert svc.bridge.notifier is not None
        svc.bridge.notifier.close(drain=5)
    finally:
        svc.stop()
    assert "webhook answered HTTP 500" in caplog.text
    assert "webhook answered HTTP 404 (attempt 1 of 2), given up" in caplog.text
    assert "secret-token" not in caplog.text
    assert rig.channel.url not in caplog.text


def test_access_found_held_past_its_end_is_told_as_outlived_once(rig: Rig) -> None:
    svc = rig.service(events=["outlived_end"])
    try:
        rig.activate("alice", 1)
        rig.clock.advance(2)
        svc.poll()
        assert rig.member("alice")
        rig.clock.advance(5 * 60)  # the bridge was down through her end
        svc.recover()
        svc.expire()
        got = rig.channel.wait_for(2)
        svc.poll()
    finally:
        svc.stop()
    assert not rig.member("alice")
    assert [r.body["event"] for r in got] == ["outlived_end", "outlived_end"]
    assert {r.body["target"] for r in got} == {
        rig.world.ic_group_name,
        f"{rig.world.permission_set_name} @ {ACCOUNT_PROD}",
    }
    assert all(r.body["detail"].startswith("access outlived its end by 4m") for r in got)
    assert len(rig.channel.received) == 2
