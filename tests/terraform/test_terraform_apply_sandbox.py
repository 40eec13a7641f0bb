"""Apply the single-account example against the AWS sandbox (moto's server plus the Identity
Center calls moto lacks), run `pim-bridge check-config` and `pim-bridge sync` on the config that
Terraform rendered, then destroy.

Plain moto answers sso-admin ListTagsForResource and DescribePermissionSetProvisioningStatus with
HTTP 500, which the AWS provider retries until it gives up: aws_ssoadmin_permission_set and every
policy attachment would hang there. The sandbox answers those calls, so everything the example
creates is applied for real here (terraform/README.md, "What the tests apply").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bridge.graph.credentials import STATIC_TOKEN_ENV
from bridge.sandbox.aws.sandbox import AwsSandbox
from bridge.sandbox.graph.sandbox import GraphSandbox
from tests.terraform.harness import Terraform

ADMIN_GROUP = "00000000-0000-4000-8000-00000000a001"
READER_GROUP = "00000000-0000-4000-8000-00000000a002"

_OVERRIDE = """
provider "aws" {{
  region                      = "{region}"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  max_retries                 = 1

  endpoints {{
    ssoadmin      = "{url}"
    identitystore = "{url}"
    iam           = "{url}"
    sts           = "{url}"
  }}
}}
"""


@pytest.fixture
def aws() -> Iterator[AwsSandbox]:
    with AwsSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def graph() -> Iterator[GraphSandbox]:
    with GraphSandbox() as sandbox:
        yield sandbox


@dataclass(frozen=True)
class Example:
    """The single-account example in a scratch copy, pointed at the sandbox."""

    terraform: Terraform
    work: Path
    tf_vars: tuple[str, ...]
    env: dict[str, str]

    def run(self, *args: str) -> str:
        result = self.terraform.run(
            self.work,
            *args,
            "-auto-approve",
            "-input=false",
            *self.tf_vars,
            env=self.env,
            timeout=180,
        )
        assert result.returncode == 0, result.output
        return result.output

    def bridge_config(self) -> str:
        rendered = self.terraform.run(self.work, "output", "-raw", "bridge_config", env=self.env)
        assert rendered.returncode == 0, rendered.output
        return rendered.stdout


def _example(terraform: Terraform, tf_tree: Path, aws: AwsSandbox) -> Example:
    work = tf_tree / "examples" / "single-account"
    (work / "sandbox_override.tf").write_text(
        _OVERRIDE.format(region=aws.region, url=aws.endpoint_url), encoding="utf-8"
    )
    tf_vars = (
        f"-var=account_id={aws.account_id}",
        f"-var=admin_entra_group_id={ADMIN_GROUP}",
        f"-var=readonly_entra_group_id={READER_GROUP}",
        f"-var=bridge_endpoint_url={aws.endpoint_url}",
    )
    env = aws.credentials_env() | {"AWS_EC2_METADATA_DISABLED": "true"}
    assert terraform.init(work).returncode == 0
    return Example(terraform, work, tf_vars, env)


def _bridge(config: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge", *args, "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def _permission_sets(aws: AwsSandbox) -> dict[str, dict[str, Any]]:
    sso = aws.client("sso-admin")
    by_name = {}
    for arn in sso.list_permission_sets(InstanceArn=aws.instance_arn)["PermissionSets"]:
        ps = sso.describe_permission_set(InstanceArn=aws.instance_arn, PermissionSetArn=arn)
        by_name[ps["PermissionSet"]["Name"]] = ps["PermissionSet"]
    return by_name


def _assert_applied(aws: AwsSandbox) -> tuple[str, str]:
    """What Terraform made, read back through the AWS API: the group's id and PimReadOnly's."""
    by_name = _permission_sets(aws)
    assert {n: p["SessionDuration"] for n, p in by_name.items()} == {
        "PimAdmin": "PT1H",
        "PimReadOnly": "PT4H",
    }
    readonly_arn = by_name["PimReadOnly"]["PermissionSetArn"]
    inline = aws.client("sso-admin").get_inline_policy_for_permission_set(
        InstanceArn=aws.instance_arn, PermissionSetArn=readonly_arn
    )["InlinePolicy"]
    assert [s["Sid"] for s in json.loads(inline)["Statement"]] == ["NoSecretValues"]
    group_id = aws.client("identitystore").get_group_id(
        IdentityStoreId=aws.identity_store_id,
        AlternateIdentifier={
            "UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": "PIM-Admin"}
        },
    )["GroupId"]
    assert aws.assignments(aws.account_id, by_name["PimAdmin"]["PermissionSetArn"]) == [
        ("GROUP", group_id)
    ]
    role = aws.client("iam").get_role(RoleName="pim-bridge")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "ecs-tasks.amazonaws.com"
    }
    return group_id, readonly_arn


def _assert_least_privilege(aws: AwsSandbox) -> None:
    """Every managed permission set has its boundary, read back through the AWS API, and the
    bridge's role may neither move a boundary nor attach or detach policies, and may remove
    members only from the group Terraform made for it."""
    sso = aws.client("sso-admin")
    boundaries = {
        name: sso.get_permissions_boundary_for_permission_set(
            InstanceArn=aws.instance_arn, PermissionSetArn=ps["PermissionSetArn"]
        )["PermissionsBoundary"]
        for name, ps in _permission_sets(aws).items()
    }
    assert boundaries == {
        "PimAdmin": {"ManagedPolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        "PimReadOnly": {"ManagedPolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
    }
    policy = aws.client("iam").get_role_policy(RoleName="pim-bridge", PolicyName="pim-bridge")
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert statements["DenyPermissionSetPolicyChanges"]["Effect"] == "Deny"
    assert sorted(statements["DenyPermissionSetPolicyChanges"]["Action"]) == [
        "sso:AttachCustomerManagedPolicyReferenceToPermissionSet",
        "sso:AttachManagedPolicyToPermissionSet",
        "sso:DeletePermissionsBoundaryFromPermissionSet",
        "sso:DetachCustomerManagedPolicyReferenceFromPermissionSet",
        "sso:DetachManagedPolicyFromPermissionSet",
        "sso:PutPermissionsBoundaryToPermissionSet",
    ]
    group_id = aws.client("identitystore").get_group_id(
        IdentityStoreId=aws.identity_store_id,
        AlternateIdentifier={
            "UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": "PIM-Admin"}
        },
    )["GroupId"]
    for sid in (
        "IdentityStoreAddMembersToManagedGroups",
        "IdentityStoreRemoveMembersFromManagedGroups",
    ):
        groups = [r for r in statements[sid]["Resource"] if ":group/" in r]
        assert groups == [f"arn:aws:identitystore:::group/{group_id}"], sid


def _write_config(path: Path, graph: GraphSandbox, rendered: str, ledger: Path) -> Path:
    path.write_text(
        f'[entra]\ncredential = "static"\ngraph_url = "{graph.url}"\n\n'
        f"{rendered}\n"
        f'[store]\nurl = "sqlite:///{ledger.as_posix()}"\n',
        encoding="utf-8",
    )
    return path


def _assert_bridge_mirrors(
    config: Path, aws: AwsSandbox, graph: GraphSandbox, group_id: str, readonly_arn: str
) -> None:
    """Two activations mirrored into what Terraform made, then removed after deactivation:
    the bridge's grants are its own to remove."""
    admin = graph.add_user("ada@example.test")
    reader = graph.add_user("bo@example.test")
    graph.add_group("aws-admins", id=ADMIN_GROUP)
    graph.add_group("aws-readers", id=READER_GROUP)
    for group in (ADMIN_GROUP, READER_GROUP):
        graph.set_max_activation(group, timedelta(hours=1))  # no activation outlasts a session
    graph.add_eligibility(admin, ADMIN_GROUP)
    graph.add_eligibility(reader, READER_GROUP)
    ada = aws.create_user("ada@example.test")
    bo = aws.create_user("bo@example.test")
    graph.actor(admin).activate(admin, ADMIN_GROUP, timedelta(hours=1), "INC-1")
    graph.actor(reader).activate(reader, READER_GROUP, timedelta(hours=1), "INC-2")

    env = {k: v for k, v in os.environ.items() if not k.startswith("PIM_BRIDGE_")}
    env |= aws.credentials_env() | {STATIC_TOKEN_ENV: graph.token}
    checked = _bridge(config, env, "check-config")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    synced = _bridge(config, env, "sync")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert aws.members(group_id) == [ada]
    assert ("USER", bo) in aws.assignments(aws.account_id, readonly_arn)

    graph.actor(admin).deactivate(admin, ADMIN_GROUP)
    graph.actor(reader).deactivate(reader, READER_GROUP)
    resynced = _bridge(config, env, "sync")
    assert resynced.returncode == 0, resynced.stdout + resynced.stderr
    assert aws.members(group_id) == []
    assert ("USER", bo) not in aws.assignments(aws.account_id, readonly_arn)


def test_apply_creates_what_the_bridge_then_syncs_into_and_destroy_removes_it(
    terraform: Terraform, tf_tree: Path, tmp_path: Path, aws: AwsSandbox, graph: GraphSandbox
) -> None:
    example = _example(terraform, tf_tree, aws)
    example.run("apply")
    group_id, readonly_arn = _assert_applied(aws)
    _assert_least_privilege(aws)

    # The bridge, configured from Terraform's own output, mirrors two activations into it.
    config = _write_config(
        tmp_path / "pim-bridge.toml", graph, example.bridge_config(), tmp_path / "ledger.db"
    )
    _assert_bridge_mirrors(config, aws, graph, group_id, readonly_arn)

    # The state is the one this test's apply has just written: a refresh would re-read every
    # resource in one more provider process (seconds of schema loading) and change nothing
    # that destroy does.
    example.run("destroy", "-refresh=false")
    sso, ids = aws.client("sso-admin"), aws.client("identitystore")
    assert sso.list_permission_sets(InstanceArn=aws.instance_arn)["PermissionSets"] == []
    groups = ids.list_groups(IdentityStoreId=aws.identity_store_id)["Groups"]
    assert [g["DisplayName"] for g in groups] == []
