"""The tenant bench.scale runs against: seeded straight into the sandboxes' in-process stores
and the ledger, as a bridge that mirrored every live grant would have left them (20,000 users
through HTTP at 20 calls/s would take hours)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.identitystore.models import (
    Group,
    IdentityStoreData,
    Name,
    User,
    identitystore_backends,
)
from moto.ssoadmin.models import AccountAssignment as MotoAssignment
from moto.ssoadmin.models import ssoadmin_backends

from bench.scale_process import GrantSeed
from bridge.sandbox.aws.sandbox import AwsSandbox
from bridge.sandbox.graph.sandbox import GraphSandbox
from bridge.sandbox.graph.tenant import DirectoryObject, Instance, ScheduleRequest

PERMISSION_SETS = 4


@dataclass
class Tenant:
    """What was seeded, by position: user j is active in group j % groups."""

    groups: list[str] = field(default_factory=list)  # Entra group ids
    ic_groups: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    permission_sets: list[str] = field(default_factory=list)
    entra_users: list[str] = field(default_factory=list)
    ic_users: list[str] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)  # the live grants' instances

    def upn(self, j: int) -> str:
        return f"u{j:05d}@scale.example.com"

    def assignment(self, i: int) -> tuple[str, str]:
        """Mapping i's account and permission set: a distinct pair per mapping."""
        n = len(self.accounts)
        return self.accounts[i % n], self.permission_sets[(i // n) % len(self.permission_sets)]


def seed(
    graph: GraphSandbox, aws: AwsSandbox, groups: int, users: int, accounts: int, spare: int
) -> Tenant:
    """Entra, Identity Center and PIM state for `users` live grants, plus `spare` eligible users
    with no activation yet (the activation burst)."""
    t = Tenant()
    t.accounts = [f"{100000000000 + n:012d}" for n in range(accounts)]
    t.permission_sets = [
        aws.create_permission_set(f"Scale-{n}", "PT1H") for n in range(PERMISSION_SETS)
    ]
    tenant = graph.tenant
    store = identitystore_backends[aws.account_id][aws.region]
    # moto creates a store's data on first use, as here.
    ids = store.identity_stores.setdefault(aws.identity_store_id, IdentityStoreData())
    sso = ssoadmin_backends[aws.account_id][aws.region]
    for i in range(groups):
        gid = str(uuid.uuid4())
        tenant.objects[gid] = DirectoryObject(gid, "group", f"PIM-scale-{i:04d}")
        t.groups.append(gid)
        ic = str(uuid.uuid4())
        ids.groups[ic] = Group(ic, f"AWS-scale-{i:04d}", [], "pim-bridge scale", ids_id(aws))
        t.ic_groups.append(ic)
    now = datetime.now(UTC)
    for j in range(users + spare):
        upn = t.upn(j)
        eid = str(uuid.uuid4())
        tenant.objects[eid] = DirectoryObject(eid, "user", f"User {j}", upn, upn)
        uid = str(uuid.uuid4())
        ids.users[uid] = User(
            uid,
            ids_id(aws),
            upn,
            Name(None, "User", str(j), None, None, None),
            f"User {j}",
            "",
            "",
            [{"Value": upn, "Type": "work", "Primary": True}],
            [],
            [],
            "",
            "",
            "",
            "",
            "",
        )
        t.entra_users.append(eid)
        t.ic_users.append(uid)
        tenant.eligibilities.add((eid, t.groups[j % groups], "member"))
        if j >= users:
            continue
        t.instances.append(activate(graph, t, j, now - timedelta(minutes=30), timedelta(hours=8)))
        i = j % groups
        mid = str(uuid.uuid4())
        ids.group_memberships[mid] = {
            "IdentityStoreId": ids_id(aws),
            "MembershipId": mid,
            "GroupId": t.ic_groups[i],
            "MemberId": {"UserId": uid},
        }
        account, ps = t.assignment(i)
        sso.account_assignments.append(
            MotoAssignment(aws.instance_arn, account, "AWS_ACCOUNT", ps, "USER", uid)
        )
    return t


def ids_id(aws: AwsSandbox) -> str:
    return aws.identity_store_id


def activate(
    graph: GraphSandbox, t: Tenant, j: int, start: datetime, length: timedelta
) -> Instance:
    """User j activates their group, as PIM records it: the request and its instance."""
    gid = t.groups[j % len(t.groups)]
    rid = str(uuid.uuid4())
    schedule = f"{gid}_member_{rid}"
    graph.tenant.requests.append(
        ScheduleRequest(
            id=rid,
            action="selfActivate",
            group_id=gid,
            principal_id=t.entra_users[j],
            access_id="member",
            created=start,
            created_by=t.entra_users[j],
            justification=f"scale work {j}",
            ticket_number=f"CHG-{j}",
            ticket_system="bench",
            schedule_info={"startDateTime": start.isoformat()},
            target_schedule_id=schedule,
        )
    )
    inst = Instance(
        id=f"{gid}_member_{uuid.uuid4()}",
        schedule_id=schedule,
        group_id=gid,
        principal_id=t.entra_users[j],
        access_id="member",
        assignment_type="activated",
        member_type="direct",
        start=start,
        end=start + length,
    )
    graph.tenant.instances.append(inst)
    return inst


def config_for(graph: GraphSandbox, aws: AwsSandbox, t: Tenant, store_url: str) -> dict[str, Any]:
    """The config, as the data a file holds: it is sent to the bridge's own process."""
    mappings = []
    for i, gid in enumerate(t.groups):
        account, ps = t.assignment(i)
        mappings.append(
            {
                "name": f"scale-{i:04d}",
                "entra_group_id": gid,
                "identity_center_group": t.ic_groups[i],
                "assignments": [{"account_id": account, "permission_set": ps}],
            }
        )
    data = {
        "entra": {"credential": "static", "graph_url": graph.url},
        "aws": {
            "region": aws.region,
            "identity_store_id": aws.identity_store_id,
            "instance_arn": aws.instance_arn,
            "endpoint_url": aws.endpoint_url,
        },
        "schedule": {"poll_interval": "15s", "drift_interval": "10m"},
        "store": {"url": store_url},
        "revocation": {"deny_stale_sessions": False},
        "mappings": mappings,
    }
    return data


def ledger_seed(t: Tenant, users: int) -> list[GrantSeed]:
    """The live grants a bridge that mirrored every user would have recorded, as plain data for
    the bridge's own process, which resolves each mapping's targets and writes the rows."""
    out: list[GrantSeed] = []
    for j in range(users):
        inst = t.instances[j]
        mapping = f"scale-{j % len(t.groups):04d}"
        out.append(
            GrantSeed(
                mapping,
                inst.id,
                inst.principal_id,
                t.upn(j),
                t.ic_users[j],
                inst.start,
                inst.end,
                f"scale work {j}",
                f"CHG-{j}",
            )
        )
    return out
