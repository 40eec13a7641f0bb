"""The incident responder's rig: a sandbox world (Graph and moto over HTTP), a config on a
SQLite ledger, the CLI as they type it, and a `pim-bridge run` service in this process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.config import load_config
from bridge.leader import election_for
from bridge.sandbox.world import ACCOUNT_PROD, World, running_world
from bridge.service import Service
from bridge.wiring import build

HOUR = timedelta(hours=1)
ALLOW_ALL = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'


class Rig:
    def __init__(
        self,
        world: World,
        tmp: Path,
        capsys: pytest.CaptureFixture[str],
        store_url: str | None = None,
    ) -> None:
        self.w = world
        self.store_url = store_url or f"sqlite:///{tmp / 'l.db'}"
        self.config = world.write_config(tmp / "pim-bridge.toml", self.store_url)
        self.actor = world.graph.actor()
        self._capsys = capsys
        self._mp = pytest.MonkeyPatch()

    def close(self) -> None:
        self._mp.undo()

    def use_scp(self) -> None:
        org = self.w.aws.client("organizations")
        org.create_organization(FeatureSet="ALL")
        policy_id = org.create_policy(
            Content=ALLOW_ALL,
            Description="pim-bridge session denials",
            Name="pim-bridge-deny",
            Type="SERVICE_CONTROL_POLICY",
        )["Policy"]["PolicySummary"]["Id"]
        self.w.aws.scp_policy_id = policy_id
        with self.config.open("a", encoding="utf-8") as f:
            f.write(f'\n[revocation]\nmechanism = "scp"\nscp_policy_id = "{policy_id}"\n')

    def notify_to(self, url: str, *events: str) -> None:
        """Notices of `events` posted to the webhook at `url` (the URL as the environment gives
        it, the events in the config)."""
        self._mp.setenv("PIM_BRIDGE_NOTIFY__WEBHOOK_URL", url)
        listed = ", ".join(f'"{e}"' for e in events)
        with self.config.open("a", encoding="utf-8") as f:
            f.write(f'\n[notify]\nevents = [{listed}]\nbackoff = "10ms"\n')

    def cli(self, verb: str, *args: str) -> tuple[int, str]:
        self._capsys.readouterr()
        code = main([verb, "-c", str(self.config), *args])
        captured = self._capsys.readouterr()
        return code, captured.out + captured.err

    def revoke(self, who: str, *args: str) -> tuple[int, str]:
        return self.cli("revoke", "--user", self.w.upn(who), "--actor", "sec-oncall", *args)

    def activate(self, who: str, mapping: str = "prod-admin") -> None:
        self.actor.activate(self.w.entra_users[who], self.w.entra_groups[mapping], HOUR, "work")

    def granted(self, who: str) -> str:
        """Activated, synced, and holding a session issued now."""
        self.activate(who)
        code, out = self.cli("sync")
        assert code == 0, out
        return self.session(who)

    def session(self, who: str, issued: datetime | None = None) -> str:
        return self.w.aws.issue_session(
            self.w.ic_users[who],
            self.w.permission_set_arn,
            ACCOUNT_PROD,
            issued or datetime.now(UTC),
        )

    def holds(self, who: str) -> bool:
        user = self.w.ic_users[who]
        return user in self.w.ic_members() or user in self.w.ic_assigned()


@pytest.fixture
def rig(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Rig]:
    with running_world() as world:
        world.export_env()
        made = Rig(world, tmp_path, capsys)
        try:
            yield made
        finally:
            made.close()


@contextmanager
def leading_service(config: Path) -> Iterator[Service]:
    """`pim-bridge run` as it starts: elected (it holds the store's writer lock), its scheduler
    running every job on real time; stopped on leaving."""
    loaded = load_config(config)
    service = Service(build(loaded), election=election_for(loaded.store.url))
    service.start()
    try:
        yield service
    finally:
        stopper = threading.Thread(target=service.stop, daemon=True)
        stopper.start()
        stopper.join(30)
