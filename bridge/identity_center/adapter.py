"""`IdentityCenter` (bridge/ports.py) and the `DenialSink` (bridge/ports.py) on one AWS instance.

A facade over the parts, each with one concern and its own locks and caches: the identity
store's users, groups and memberships (directory.py), account assignments (assignments.py),
permission sets by name (permission_sets.py), inline policies and their provisioning
(policy.py), and `check-config` (instance.py). Every part calls AWS through one `CallPolicy`,
so they share one rate limit: the instance's 20 calls/s are one budget however they are spent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta

from bridge.config import AwsConfig
from bridge.identity_center.accounts import AccountCheck, check_account
from bridge.identity_center.api import InstanceApi
from bridge.identity_center.assignments import Assignments
from bridge.identity_center.calls import Backoff, CallPolicy
from bridge.identity_center.client import ClientFactory, make_client_factory
from bridge.identity_center.directory import Directory
from bridge.identity_center.instance import check_instance
from bridge.identity_center.permission_sets import PermissionSets, parse_iso_duration
from bridge.identity_center.policy import InlinePolicies
from bridge.identity_center.polling import RequestPoller
from bridge.model import AccountAssignment, GroupMembership, Target
from bridge.ownership import bridge_owned

__all__ = ["AwsIdentityCenter", "parse_iso_duration"]


class AwsIdentityCenter:
    """Thread-safe: the core may call it from several threads at once. Public methods raise
    only SinkError."""

    def __init__(
        self,
        aws: AwsConfig,
        *,
        client_factory: ClientFactory | None = None,
        poll_interval: float = 0.5,
        max_outstanding_creates: int = 10,
        calls_per_second: float | None = 20,
        backoff: Backoff | None = None,
        poll_timeout: float = 300.0,
        lookup_ttl: float = 600.0,
        miss_ttl: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.aws = aws
        self.policy = CallPolicy(
            calls_per_second=calls_per_second, backoff=backoff, sleep=sleep, clock=clock
        )
        factory = client_factory or make_client_factory(aws)
        self._api = InstanceApi(aws, factory, self.policy, sleep=sleep, clock=clock)
        # Made on first use: only `check-config` reads AWS Organizations.
        self._organizations = lambda: factory("organizations")
        poller = RequestPoller(self._api, interval=poll_interval, timeout=poll_timeout)
        self.directory = Directory(self._api, lookup_ttl=lookup_ttl, miss_ttl=miss_ttl)
        self.assignments = Assignments(
            self._api, poller, max_outstanding_creates=max_outstanding_creates
        )
        self.permission_sets = PermissionSets(self._api, lookup_ttl=lookup_ttl)
        self.inline_policies = InlinePolicies(self._api, poller)

    # -- IdentityCenter ---------------------------------------------------------------------

    def find_user_id(self, attribute: str, value: str) -> str | None:
        return self.directory.find_user_id(attribute, value)

    def resolve_group(self, name_or_id: str) -> str:
        return self.directory.resolve_group(name_or_id)

    def resolve_permission_set(self, name_or_arn: str) -> str:
        return self.permission_sets.resolve(name_or_arn)

    def group_owned(self, group_id: str) -> bool:
        return bridge_owned(self.directory.describe_group(group_id)[1])

    def holders(self, target: Target) -> set[str]:
        if isinstance(target, GroupMembership):
            return self.directory.members(target.group_id)
        return self.assignments.holders(target)

    def add(self, user_id: str, target: Target) -> None:
        if isinstance(target, GroupMembership):
            self.directory.add_member(user_id, target.group_id)
        else:
            self.assignments.add(user_id, target)

    def remove(self, user_id: str, target: Target) -> None:
        if isinstance(target, GroupMembership):
            self.directory.remove_member(user_id, target.group_id)
        else:
            self.assignments.remove(user_id, target)

    # -- DenialSink, and what revocation reads (docs/architecture.md) ---------------------------

    def session_duration(self, permission_set_arn: str) -> timedelta:
        return self.permission_sets.session_duration(permission_set_arn)

    def get_inline_policy(self, permission_set_arn: str) -> str:
        return self.inline_policies.get(permission_set_arn)

    def put_inline_policy(self, permission_set_arn: str, document: str) -> None:
        self.inline_policies.put(permission_set_arn, document)

    def provision(self, permission_set_arn: str, account_id: str) -> None:
        self.inline_policies.provision(permission_set_arn, account_id)

    def provision_accounts(self, permission_set_arn: str, accounts: Sequence[str]) -> None:
        self.inline_policies.provision_accounts(permission_set_arn, accounts)

    def assigned_accounts(self, permission_set_arn: str) -> list[str]:
        return self.inline_policies.provisioned_accounts(permission_set_arn)

    def group_assignments(self, group_id: str) -> list[AccountAssignment]:
        return self.assignments.group_assignments(group_id)

    # -- what evidence of use reads (bridge/activity/) --------------------------------------

    def user_name(self, user_id: str) -> str | None:
        return self.directory.user_name(user_id)

    def permission_set_name(self, permission_set_arn: str) -> str:
        return self.permission_sets.name(permission_set_arn)

    # -- check-config -----------------------------------------------------------------------

    def check(self) -> str:
        return check_instance(self._api)

    def check_account(self, account_id: str) -> AccountCheck:
        return check_account(self._organizations, self.policy, account_id)
