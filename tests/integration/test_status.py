"""`pim-bridge status` on a ledger built through real sync and expiry cycles (the Graph sandbox
over HTTP and moto's server, on one hand-moved clock): who holds what, the removals the brake
holds, holdings whose mapping left the config, and the denials in force, from the ledger alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bridge.cli import main
from bridge.config import config_from_dict
from bridge.sandbox.world import ACCOUNT_PROD, World, running_world
from bridge.wiring import build
from tests.fakes import FakeClock

pytestmark = pytest.mark.integration
MIN = timedelta(minutes=1)


@dataclass
class Built:
    world: World
    config: Path
    without_breakglass: Path


def _story(w: World, clock: FakeClock, tmp: Path) -> Built:
    t0 = clock.now()
    store = f"sqlite:///{tmp / 'ledger.db'}"
    data = w.config_dict(store)
    bridge = build(config_from_dict(data, {}), clock=clock)
    braked = build(
        config_from_dict({**data, "safety": {"max_removals_per_cycle": 1}}, {}), clock=clock
    )
    actor = w.graph.actor()
    user, group = w.entra_users, w.entra_groups
    try:
        actor.activate(user["alice"], group["prod-admin"], 60 * MIN, "INC-4711 hotfix")
        actor.activate(user["carol"], group["breakglass"], 60 * MIN, "drill")
        actor.activate(user["bob"], group["prod-admin"], 10 * MIN, "quick look")
        actor.activate(user["erin"], group["prod-admin"], 30 * MIN, "on call")
        actor.activate(user["frank"], group["prod-admin"], 30 * MIN, "migration")
        clock.advance(2)
        assert bridge.reconciler.cycle(kind="sync", read_aws=True).exit_code == 0
        clock.set(t0 + 10 * MIN + timedelta(seconds=1))
        assert not bridge.reconciler.expire().failed  # bob: revoked, his sessions denied
        clock.advance(60)
        actor.deactivate(user["erin"], group["prod-admin"])
        actor.deactivate(user["frank"], group["prod-admin"])
        assert braked.reconciler.cycle(kind="sync").held  # four removals, a brake of one
    finally:
        braked.close()
        bridge.close()
        actor.close()
    path = w.write_config(tmp / "pim-bridge.toml", store)
    blocks = path.read_text().split("\n[[mappings]]")
    kept = [b for b in blocks if 'name = "breakglass"' not in b]
    orphaned = tmp / "without-breakglass.toml"
    orphaned.write_text("\n[[mappings]]".join(kept))
    return Built(w, path, orphaned)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    tmp = tmp_path_factory.mktemp("status")
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    with running_world(graph_clock=clock) as world, pytest.MonkeyPatch.context() as mp:
        for k, v in world.env().items():
            mp.setenv(k, v)
        yield _story(world, clock, tmp)


def status(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    code = main(["status", "-c", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


def as_json(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> dict[str, Any]:
    code, out, _ = status(capsys, config, "--format", "json", *args)
    assert code == 0
    doc: dict[str, Any] = json.loads(out)
    return doc


def test_status_names_who_holds_what_with_until_time_left_and_instance(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = as_json(capsys, built.config)
    w = built.world
    alice = [h for h in doc["holding"] if h["user"] == "alice@example.com"]
    targets = {h["target"]["name"]: h for h in alice}
    assert set(targets) == {w.ic_group_name, f"{w.permission_set_name} @ {ACCOUNT_PROD}"}
    group = targets[w.ic_group_name]
    assert group["target"]["identity_center_group"] == w.ic_group_name
    assert group["mapping"] == "prod-admin"
    assert group["entra_group_id"] == w.entra_groups["prod-admin"]
    assert group["pim_instance_id"] and group["state"] == "held"
    assert group["until"] > group["since"] and group["seconds_left"] > 0
    ps = targets[f"{w.permission_set_name} @ {ACCOUNT_PROD}"]["target"]
    assert ps["permission_set"] == w.permission_set_name and ps["account_id"] == ACCOUNT_PROD
    assert doc["blocked"] is None  # no such table in this ledger: the section is left out
    assert not any(h["user"].startswith("bob") for h in doc["holding"])


def test_status_shows_the_removals_the_brake_holds(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = as_json(capsys, built.config)
    assert doc["safety_brake"].startswith("4 removals held back")
    held = {(r["user"], r["target"]["kind"]) for r in doc["held_removals"]}
    assert held == {
        (f"{who}@example.com", kind)
        for who in ("erin", "frank")
        for kind in ("group", "assignment")
    }
    assert {r["why"] for r in doc["held_removals"]} == {"held back by the safety brake"}


def test_status_lists_holdings_whose_mapping_left_the_config_as_orphans(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    with_it = as_json(capsys, built.config)
    assert {h["user"] for h in with_it["holding"] if h["mapping"] == "breakglass"} == {
        "carol@example.com"
    }
    assert with_it["orphans"] == []
    without = as_json(capsys, built.without_breakglass)
    assert [(o["user"], o["mapping"]) for o in without["orphans"]] == [
        ("carol@example.com", "breakglass")
    ]
    assert not any(h["mapping"] == "breakglass" for h in without["holding"])


def test_status_shows_the_session_denials_in_force_by_name(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = as_json(capsys, built.config, "--user", "bob")
    assert doc["holding"] == [] and doc["held_removals"] == []
    (denial,) = doc["denials"]
    assert denial["user"] == "bob@example.com"
    assert denial["permission_set"] == built.world.permission_set_name
    assert denial["accounts"] == [ACCOUNT_PROD] and denial["state"] == "in force"


def test_status_filters_by_user_and_mapping(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    alice = as_json(capsys, built.config, "--user", "alice@example.com")
    assert {h["user"] for h in alice["holding"]} == {"alice@example.com"}
    assert alice["held_removals"] == [] and alice["denials"] == []
    breakglass = as_json(capsys, built.config, "--mapping", "breakglass")
    assert {h["user"] for h in breakglass["holding"]} == {"carol@example.com"}
    assert breakglass["held_removals"] == []


def test_status_table_reads_at_100_columns_with_names_not_ids(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = status(capsys, built.config)
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 100
    w = built.world
    words = " ".join(out.split())  # a long cell wraps at 100 columns
    for text in (
        "Holding now",
        "Held removals",
        "held back by the safety brake",
        "alice@example.com",
    ):
        assert text in words
    assert w.ic_group_name in out and w.permission_set_name in out
    assert w.ic_group_id not in out and w.permission_set_arn not in out
    assert "Blocked users" not in out


def test_status_of_an_unknown_user_or_mapping_says_so_and_exits_1(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = status(capsys, built.config, "--user", "nobody@example.com")
    assert (code, out) == (1, "")
    assert err == "pim-bridge: status: no user 'nobody@example.com' in the ledger\n"
    code, _, err = status(capsys, built.config, "--mapping", "nope")
    assert code == 1 and "no mapping 'nope'" in err


def test_status_config_and_usage_errors_exit_2(
    built: Built, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = status(capsys, tmp_path / "missing.toml")
    assert code == 2 and "config error" in err
    with pytest.raises(SystemExit) as exc:
        main(["status", "-c", str(built.config), "--format", "xml"])
    assert exc.value.code == 2
