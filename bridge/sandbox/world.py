"""A whole local tenant: the Graph PIM simulator and moto's AWS server, seeded with the same
people and groups on both sides, and a config pointing the bridge at them. The demo, the
`sandbox` command and the integration tests all start from here."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bridge.config import Config, config_from_dict
from bridge.ports import Clock
from bridge.sandbox.aws.sandbox import AwsSandbox
from bridge.sandbox.graph.applications import register_application
from bridge.sandbox.graph.provisioning import ProvisioningService
from bridge.sandbox.graph.provisioning_timing import EntraTiming
from bridge.sandbox.graph.sandbox import GraphSandbox
from bridge.sandbox.graph.scim import ScimServer

ACCOUNT_PROD = "111111111111"
ACCOUNT_DEV = "222222222222"
# People in both Entra and Identity Center, plus one only in Entra (the unknown user).
PEOPLE = ("alice", "bob", "carol", "erin", "frank")
ENTRA_ONLY = ("dave",)
DOMAIN = "example.com"


@dataclass
class World:
    graph: GraphSandbox
    aws: AwsSandbox
    entra_users: dict[str, str] = field(default_factory=dict)  # short name -> Entra object id
    ic_users: dict[str, str] = field(default_factory=dict)  # short name -> Identity Store id
    entra_groups: dict[str, str] = field(default_factory=dict)  # mapping name -> Entra group id
    ic_group_id: str = ""
    ic_group_name: str = "AWS-Prod-Admin"
    permission_set_arn: str = ""
    permission_set_name: str = "AdministratorAccess"
    # Opt-in (running_world(provisioning=True)): Entra's SCIM provisioning and its SCIM server.
    scim: ScimServer | None = None
    provisioning: ProvisioningService | None = None
    bridge_app_id: str = ""
    scim_token_expires_at: datetime | None = None

    def upn(self, who: str) -> str:
        return f"{who}@{DOMAIN}"

    def env(self) -> dict[str, str]:
        """What the bridge process needs in its environment to reach the sandbox."""
        return {
            **self.aws.credentials_env(),
            # Nothing on the machine may point boto3 at a real account.
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "PIM_BRIDGE_GRAPH_TOKEN": self.graph.token,
            **({"PIM_BRIDGE_SCIM_TOKEN": self.scim.token} if self.scim else {}),
        }

    def export_env(self) -> None:
        os.environ.update(self.env())

    def config_dict(self, store_url: str, **schedule: str) -> dict[str, Any]:
        data = self._config_dict(store_url, **schedule)
        if self.aws.trail is not None:
            data["activity"] = self.aws.trail.activity_section()
        return data

    def _config_dict(self, store_url: str, **schedule: str) -> dict[str, Any]:
        return {
            "entra": {"credential": "static", "graph_url": self.graph.url},
            "aws": {
                "region": self.aws.region,
                "identity_store_id": self.aws.identity_store_id,
                "instance_arn": self.aws.instance_arn,
                "endpoint_url": self.aws.endpoint_url,
            },
            "schedule": {
                "poll_interval": "2s",
                "drift_interval": "30s",
                # The scenarios built on this world poll, as they always have; those about the
                # membership watcher turn it on.
                "watch_interval": "0",
                **schedule,
            },
            "store": {"url": store_url},
            # Any free port: several sandboxes (tests, the demo) run side by side.
            "service": {"listen": "127.0.0.1:0"},
            "mappings": [
                {
                    "name": "prod-admin",
                    "entra_group_id": self.entra_groups["prod-admin"],
                    "identity_center_group": self.ic_group_name,
                    "assignments": [
                        {"account_id": ACCOUNT_PROD, "permission_set": self.permission_set_name}
                    ],
                },
                {
                    # Break-glass maps to the same Identity Center group: overlapping grants.
                    "name": "breakglass",
                    "entra_group_id": self.entra_groups["breakglass"],
                    "identity_center_group": self.ic_group_name,
                },
            ],
        }

    def config(
        self, store_url: str, *, notify: Mapping[str, Any] | None = None, **schedule: str
    ) -> Config:
        """`notify`: a [notify] section, its `webhook_url` passed as the environment would."""
        data = self.config_dict(store_url, **schedule)
        env: dict[str, str] = {}
        if notify is not None:
            section = dict(notify)
            env["PIM_BRIDGE_NOTIFY__WEBHOOK_URL"] = section.pop("webhook_url")
            data["notify"] = section
        if self.provisioning is not None and self.scim is not None:
            data["entra"]["client_id"] = self.bridge_app_id
            data["scim"] = {
                "endpoint": self.scim.url,
                "token_expires_at": self.scim_token_expires_at,
                "provisioning_app_id": self.provisioning.sp_id,
            }
            env["PIM_BRIDGE_SCIM_TOKEN"] = self.scim.token
        return config_from_dict(data, env)

    def write_config(self, path: str | Path, store_url: str, listen: str | None = None) -> Path:
        path = Path(path)
        data = self.config_dict(store_url)
        if listen:
            data["service"] = {**data.get("service", {}), "listen": listen}
        path.write_text(_to_toml(data), encoding="utf-8")
        return path

    def ic_members(self) -> set[str]:
        return set(self.aws.members(self.ic_group_id))

    def ic_assigned(self) -> set[str]:
        return {
            pid
            for kind, pid in self.aws.assignments(ACCOUNT_PROD, self.permission_set_arn)
            if kind == "USER"
        }


def seed(graph: GraphSandbox, aws: AwsSandbox) -> World:
    w = World(graph, aws)
    # The group exists for the bridge alone: marked bridge-owned (bridge/ownership.py).
    w.ic_group_id = aws.create_group(w.ic_group_name, "Managed by pim-bridge: mirrored from PIM")
    w.permission_set_arn = aws.create_permission_set(w.permission_set_name, "PT1H")
    for name in ("prod-admin", "breakglass"):
        w.entra_groups[name] = graph.add_group(f"PIM-{name}")
        # No activation outlives the permission set's one-hour session.
        graph.set_max_activation(w.entra_groups[name], timedelta(hours=1))
    for who in (*PEOPLE, *ENTRA_ONLY):
        w.entra_users[who] = graph.add_user(w.upn(who), who.capitalize())
        for gid in w.entra_groups.values():
            graph.add_eligibility(w.entra_users[who], gid)
        if who in PEOPLE:
            w.ic_users[who] = aws.create_user(w.upn(who), who.capitalize(), w.upn(who))
    return w


@contextmanager
def running_world(
    *,
    async_delay: float = 0.0,
    aws_latency: float = 0.0,
    graph_latency: float = 0.0,
    graph_page_size: int = 100,
    graph_token: str | None = None,
    graph_port: int = 0,
    graph_clock: Clock | None = None,
    provisioning: bool = False,
    scim_activation_delay: float = 0.3,
    scim_removal_delay: float = 1.0,
    scim_compression: float | None = None,
    app_secret_days: float = 12,
    scim_token_days: float = 200,
    trail: bool = False,
) -> Iterator[World]:
    """With `provisioning`, also Entra's SCIM provisioning to a SCIM server on loopback (after
    the given delays, or with `scim_compression` on Entra's documented timing that many times
    faster), and the bridge's app registration with a secret ending in
    `app_secret_days`; `World.config()` then fills `[scim]` and `entra.client_id`. With
    `trail`, sessions' calls go to an organization trail's bucket, and the config's
    `[activity]` reads it."""
    graph = GraphSandbox(
        clock=graph_clock, page_size=graph_page_size, token=graph_token, port=graph_port
    )
    graph.latency = graph_latency
    with graph, AwsSandbox(async_delay=async_delay, latency=aws_latency, trail=trail) as aws:
        world = seed(graph, aws)
        if not provisioning:
            yield world
            return
        now = graph.tenant.clock.now()
        world.bridge_app_id = register_application(
            graph,
            "pim-bridge",
            secret_expires=now + timedelta(days=app_secret_days),
            certificate_expires=now + timedelta(days=400),
        )
        world.scim_token_expires_at = now + timedelta(days=scim_token_days)
        with ScimServer() as scim:
            scim.add_group(world.ic_group_name)
            prov = ProvisioningService(
                graph,
                scim,
                {gid: f"PIM-{name}" for name, gid in world.entra_groups.items()},
                {world.entra_users[who]: world.upn(who) for who in PEOPLE},
                activation_delay=scim_activation_delay,
                removal_delay=scim_removal_delay,
                timing=EntraTiming(scim_compression, now) if scim_compression else None,
            )
            world.scim, world.provisioning = scim, prov
            prov.start()
            try:
                yield world
            finally:
                prov.stop()


def _to_toml(data: dict[str, Any]) -> str:
    """Just enough TOML for the configs this module writes (tables, arrays of tables)."""
    lines: list[str] = []

    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return str(v)
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {scalar(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    for section, body in data.items():
        if isinstance(body, list):
            for item in body:
                lines.append(f"\n[[{section}]]")
                lines += [f"{k} = {scalar(v)}" for k, v in item.items()]
        else:
            lines.append(f"\n[{section}]")
            lines += [f"{k} = {scalar(v)}" for k, v in body.items()]
    return "\n".join(lines).lstrip() + "\n"
