"""Permission sets' inline policies, written and provisioned to the accounts they are assigned
on: where session denial (docs/architecture.md) puts its Deny statements.

A policy change reaches an account's sessions only once ProvisionPermissionSet for that account
SUCCEEDED. Identity Center updates one permission set per account at a time, so provisioning is
serialised per account here. Several accounts are provisioned side by side, or, when they are
every account the permission set is provisioned to, by one ALL_PROVISIONED_ACCOUNTS request: a
revoke of five permission sets on five accounts is then five requests and their status polls,
not twenty-five, within the instance's 20 calls/s.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from bridge.identity_center.api import InstanceApi
from bridge.identity_center.calls import translated
from bridge.identity_center.polling import RequestPoller

# Accounts of one permission set provisioned at once: enough to keep a revoke's accounts busy,
# few enough that their status polls stay within the instance's call rate.
PROVISION_WORKERS = 8


class InlinePolicies:
    """Thread-safe."""

    def __init__(self, api: InstanceApi, poller: RequestPoller) -> None:
        self._api = api
        self._poller = poller
        self._account_locks_guard = threading.Lock()
        self._account_locks: dict[str, threading.Lock] = {}

    @translated("GetInlinePolicyForPermissionSet")
    def get(self, permission_set_arn: str) -> str:
        """The inline policy document, '' when there is none."""
        return str(
            self._api.call(
                "GetInlinePolicyForPermissionSet",
                self._api.sso.get_inline_policy_for_permission_set,
                **self._api.instance,
                PermissionSetArn=permission_set_arn,
            ).get("InlinePolicy")
            or ""
        )

    @translated("PutInlinePolicyToPermissionSet")
    def put(self, permission_set_arn: str, document: str) -> None:
        """Write the inline policy; an empty document deletes it (AWS refuses an empty one)."""
        if document.strip():
            self._api.call(
                "PutInlinePolicyToPermissionSet",
                self._api.sso.put_inline_policy_to_permission_set,
                **self._api.instance,
                PermissionSetArn=permission_set_arn,
                InlinePolicy=document,
            )
        else:
            self._api.call(
                "DeleteInlinePolicyFromPermissionSet",
                self._api.sso.delete_inline_policy_from_permission_set,
                **self._api.instance,
                PermissionSetArn=permission_set_arn,
            )

    @translated("ProvisionPermissionSet")
    def provision(self, permission_set_arn: str, account_id: str) -> None:
        """Push the permission set's current policies to the account and wait for it."""
        with self._account_lock(account_id):
            self._provision(permission_set_arn, TargetType="AWS_ACCOUNT", TargetId=account_id)

    def provision_accounts(self, permission_set_arn: str, accounts: Sequence[str]) -> None:
        """Every one of `accounts` provisioned, waiting for all. Each is attempted even when
        another fails; the first failure is raised once all have finished."""
        wanted = sorted(set(accounts))
        if len(wanted) > 1 and set(self.provisioned_accounts(permission_set_arn)) <= set(wanted):
            self._provision_everywhere(permission_set_arn)
            return
        with ThreadPoolExecutor(max(1, min(len(wanted), PROVISION_WORKERS))) as pool:
            futures = [pool.submit(self.provision, permission_set_arn, a) for a in wanted]
        failures = [e for f in futures if (e := f.exception()) is not None]
        if failures:
            raise failures[0]

    @translated("ProvisionPermissionSet")
    def _provision_everywhere(self, permission_set_arn: str) -> None:
        # One request: AWS itself goes through the accounts (a per-account request of another
        # caller meanwhile answers ConflictException, which is retried).
        self._provision(permission_set_arn, TargetType="ALL_PROVISIONED_ACCOUNTS")

    def _provision(self, permission_set_arn: str, **target: str) -> None:
        status = self._api.call(
            "ProvisionPermissionSet",
            self._api.sso.provision_permission_set,
            **self._api.instance,
            PermissionSetArn=permission_set_arn,
            **target,
        )["PermissionSetProvisioningStatus"]
        self._poller.wait(
            "DescribePermissionSetProvisioningStatus",
            status,
            lambda rid: self._api.sso.describe_permission_set_provisioning_status(
                **self._api.instance, ProvisionPermissionSetRequestId=rid
            )["PermissionSetProvisioningStatus"],
        )

    @translated("ListAccountsForProvisionedPermissionSet")
    def provisioned_accounts(self, permission_set_arn: str) -> list[str]:
        """Accounts the permission set is provisioned to (every account it is assigned on)."""
        return sorted(
            self._api.pages(
                "ListAccountsForProvisionedPermissionSet",
                self._api.sso.list_accounts_for_provisioned_permission_set,
                "AccountIds",
                **self._api.instance,
                PermissionSetArn=permission_set_arn,
            )
        )

    @contextmanager
    def _account_lock(self, account_id: str) -> Iterator[None]:
        with self._account_locks_guard:
            lock = self._account_locks.setdefault(account_id, threading.Lock())
        with lock:
            yield
