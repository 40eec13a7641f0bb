"""In-memory stand-ins for the ports, for unit tests of the core only. Integration tests use the
real adapters over HTTP against the sandbox servers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bridge.errors import SinkError
from bridge.model import Target
from bridge.ports import GroupRead, PimInstance


class FakePim:
    def __init__(self) -> None:
        self.groups: dict[str, list[PimInstance]] = {}
        self.failing: set[str] = set()

    def activate(
        self,
        group: str,
        upn: str,
        start: datetime,
        end: datetime | None,
        *,
        instance: str | None = None,
        kind: str = "activated",
        access: str = "member",
    ) -> str:
        iid = instance or f"i-{group}-{upn}-{len(self.groups.get(group, []))}"
        self.groups.setdefault(group, []).append(
            PimInstance(
                id=iid,
                group_id=group,
                principal_id=f"p-{upn}",
                principal_type="user",
                access_id=access,
                assignment_type=kind,
                member_type="direct",
                start=start,
                end=end,
                principal={"userPrincipalName": upn},
            )
        )
        return iid

    def deactivate(self, instance: str) -> None:
        for items in self.groups.values():
            items[:] = [i for i in items if i.id != instance]

    def read_groups(
        self, group_ids: Sequence[str], *, deadline: float | None = None
    ) -> dict[str, GroupRead]:
        return {
            g: GroupRead(g, error="HTTP 503")
            if g in self.failing
            else GroupRead(g, tuple(self.groups.get(g, [])))
            for g in group_ids
        }


class FakeIdentityCenter:
    def __init__(self, users: Sequence[str]) -> None:
        self.users = {u: f"u-{u}" for u in users}
        self.state: dict[str, set[str]] = {}
        self.fail_removes = False
        self.writes = 0

    def find_user_id(self, attribute: str, value: str) -> str | None:
        return self.users.get(value)

    def resolve_group(self, name_or_id: str) -> str:
        if name_or_id.startswith("missing"):
            raise SinkError(f"no group named {name_or_id!r}", temporary=False)
        return f"gid-{name_or_id}"

    def resolve_permission_set(self, name_or_arn: str) -> str:
        return f"arn:aws:sso:::permissionSet/ssoins-1/{name_or_arn}"

    def holders(self, target: Target) -> set[str]:
        return set(self.state.get(target.key, set()))

    def add(self, user_id: str, target: Target) -> None:
        self.writes += 1
        self.state.setdefault(target.key, set()).add(user_id)

    def remove(self, user_id: str, target: Target) -> None:
        self.writes += 1
        if self.fail_removes:
            raise SinkError("ThrottlingException: Rate exceeded", temporary=True)
        self.state.get(target.key, set()).discard(user_id)
