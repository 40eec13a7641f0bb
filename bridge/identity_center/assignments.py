"""Account assignments: permission sets assigned to users on accounts, listed, created and
deleted, and the assignments of groups.

CreateAccountAssignment does not refuse a duplicate, so we look before creating. It and
DeleteAccountAssignment are asynchronous; at most 10-15 creations may be outstanding per
instance, a quota AWS does not raise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from bridge.identity_center.api import InstanceApi
from bridge.identity_center.calls import AwsCallError, found_or_none, translated
from bridge.identity_center.polling import RequestPoller
from bridge.model import AccountAssignment


class HolderSnapshots:
    """The duplicate check before a create, from one listing shared by the burst of creates on
    the same target for `ttl` seconds: a listing per create would spend the instance's 20
    calls/s on reads. Removals never rely on it: a stale "absent" there would leave access in
    place."""

    def __init__(self, clock: Callable[[], float], ttl: float) -> None:
        self.ttl = ttl
        self._clock = clock
        self._guard = threading.Lock()
        self._locks: dict[AccountAssignment, threading.Lock] = {}
        self._snapshots: dict[AccountAssignment, tuple[float, set[str]]] = {}

    def record(self, target: AccountAssignment, holders: set[str]) -> None:
        with self._guard:
            self._snapshots[target] = (self._clock() + self.ttl, set(holders))

    def recent(self, target: AccountAssignment, listing: Callable[[], set[str]]) -> set[str]:
        """The live snapshot of `target`, else `listing()` recorded as the new one. One caller
        per target lists; the others of the burst wait for its answer."""
        with self._guard:
            lock = self._locks.setdefault(target, threading.Lock())
        with lock:
            with self._guard:
                cached = self._snapshots.get(target)
            if cached is not None and cached[0] > self._clock():
                return cached[1]
            holders = listing()
            self.record(target, holders)
            return holders

    def added(self, target: AccountAssignment, user_id: str) -> None:
        with self._guard:
            if target in self._snapshots:
                self._snapshots[target][1].add(user_id)

    def removed(self, target: AccountAssignment, user_id: str) -> None:
        with self._guard:
            if target in self._snapshots:
                self._snapshots[target][1].discard(user_id)


class Assignments:
    """Thread-safe."""

    def __init__(
        self,
        api: InstanceApi,
        poller: RequestPoller,
        *,
        max_outstanding_creates: int,
        snapshot_ttl: float = 5.0,
    ) -> None:
        self._api = api
        self._poller = poller
        self._creates = threading.BoundedSemaphore(max_outstanding_creates)
        self._snapshots = HolderSnapshots(api.clock, snapshot_ttl)

    @translated("ListHolders")
    def holders(self, target: AccountAssignment) -> set[str]:
        """User ids assigned the permission set on the account directly (not through groups)."""
        found = {
            a["PrincipalId"] for a in self._listing(target) if a.get("PrincipalType") == "USER"
        }
        # The freshest listing is the duplicate check for the creates that follow: an older
        # snapshot would skip re-adding an assignment removed out of band since.
        self._snapshots.record(target, found)
        return found

    @translated("Add")
    def add(self, user_id: str, target: AccountAssignment) -> None:
        if user_id in self._snapshots.recent(target, lambda: self.holders(target)):
            return
        with self._creates:
            status = self._api.call(
                "CreateAccountAssignment",
                self._api.sso.create_account_assignment,
                **self._request(user_id, target),
            )["AccountAssignmentCreationStatus"]
            self._poller.wait(
                "DescribeAccountAssignmentCreationStatus",
                status,
                lambda rid: self._api.sso.describe_account_assignment_creation_status(
                    **self._api.instance, AccountAssignmentCreationRequestId=rid
                )["AccountAssignmentCreationStatus"],
            )
        self._snapshots.added(target, user_id)

    @translated("Remove")
    def remove(self, user_id: str, target: AccountAssignment) -> None:
        """Delete without listing first: the ledger says we hold it, and a listing before every
        deletion would spend the instance's 20 calls/s (and a round trip) on the common case.
        An assignment that is not there is the goal reached, however AWS words it."""
        self._snapshots.removed(target, user_id)
        try:
            found_or_none(lambda: self._delete(user_id, target))
        except AwsCallError as exc:
            if exc.code != "FAILED" or self._assigned(user_id, target):
                raise

    @translated("ListAccountAssignmentsForPrincipal")
    def group_assignments(self, group_id: str) -> list[AccountAssignment]:
        """The account/permission-set pairs assigned to a group: what its members lose when
        they leave it, so where their older sessions must be denied."""
        return sorted(
            {
                AccountAssignment(a["AccountId"], a["PermissionSetArn"])
                for a in self._api.pages(
                    "ListAccountAssignmentsForPrincipal",
                    self._api.sso.list_account_assignments_for_principal,
                    "AccountAssignments",
                    **self._api.instance,
                    PrincipalId=group_id,
                    PrincipalType="GROUP",
                )
            }
        )

    def _delete(self, user_id: str, target: AccountAssignment) -> dict[str, Any]:
        status = self._api.call(
            "DeleteAccountAssignment",
            self._api.sso.delete_account_assignment,
            **self._request(user_id, target),
        )["AccountAssignmentDeletionStatus"]
        return self._poller.wait(
            "DescribeAccountAssignmentDeletionStatus",
            status,
            lambda rid: self._api.sso.describe_account_assignment_deletion_status(
                **self._api.instance, AccountAssignmentDeletionRequestId=rid
            )["AccountAssignmentDeletionStatus"],
        )

    def _listing(self, target: AccountAssignment) -> Iterator[dict[str, Any]]:
        return self._api.pages(
            "ListAccountAssignments",
            self._api.sso.list_account_assignments,
            "AccountAssignments",
            **self._api.instance,
            AccountId=target.account_id,
            PermissionSetArn=target.permission_set_arn,
        )

    def _assigned(self, user_id: str, target: AccountAssignment) -> bool:
        return any(
            a.get("PrincipalType") == "USER" and a.get("PrincipalId") == user_id
            for a in self._listing(target)
        )

    def _request(self, user_id: str, target: AccountAssignment) -> dict[str, str]:
        return {
            **self._api.instance,
            "TargetId": target.account_id,
            "TargetType": "AWS_ACCOUNT",
            "PermissionSetArn": target.permission_set_arn,
            "PrincipalType": "USER",
            "PrincipalId": user_id,
        }
