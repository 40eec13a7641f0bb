"""`IdentityCenter` on AWS: identitystore for users, groups and memberships; sso-admin for
permission sets, account assignments and provisioning.

AWS facts this code is shaped by:
- Group membership writes are synchronous; a duplicate CreateGroupMembership is a
  ConflictException, and so is a concurrent write, so a conflict is settled by looking.
- CreateAccountAssignment does not refuse a duplicate, so we look before creating; it and
  DeleteAccountAssignment and ProvisionPermissionSet are asynchronous and boto3 has no waiter:
  we poll the request status. At most 10-15 creations may be outstanding, not raisable.
- Identity Center updates one permission set per account at a time: provisioning is serialised
  per account here.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import wraps
from typing import Any, Concatenate, ParamSpec, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from bridge.config import AwsConfig
from bridge.identity_center.cache import TtlCache
from bridge.identity_center.calls import (
    CONFLICT,
    NOT_FOUND,
    RETRY_CODES,
    AwsCallError,
    Backoff,
    CallPolicy,
    error_code,
    to_sink_error,
)
from bridge.identity_center.client import ClientFactory, make_client_factory
from bridge.model import AccountAssignment, GroupMembership, Target

P = ParamSpec("P")
R = TypeVar("R")

# Identity Store group ids: a UUID, optionally behind a 10-hex-digit prefix.
_GROUP_ID = re.compile(
    r"^([0-9a-f]{10}-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I
)
_ISO_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
_DONE = ("SUCCEEDED", "FAILED")


def _translated(
    operation: str,
) -> Callable[
    [Callable[Concatenate[AwsIdentityCenter, P], R]], Callable[Concatenate[AwsIdentityCenter, P], R]
]:
    """Public methods raise only SinkError: translate whatever botocore raised."""

    def wrap(
        fn: Callable[Concatenate[AwsIdentityCenter, P], R],
    ) -> Callable[Concatenate[AwsIdentityCenter, P], R]:
        @wraps(fn)
        def inner(self: AwsIdentityCenter, *args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(self, *args, **kwargs)
            except (ClientError, BotoCoreError) as exc:
                raise to_sink_error(exc, operation) from exc

        return inner

    return wrap


def parse_iso_duration(value: str | int | float) -> timedelta:
    """'PT1H', 'PT2H30M', 'P1D'; a bare number is seconds (moto's default is 3600)."""
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    m = _ISO_DURATION.match(value)
    if not m or not any(m.groups()):
        raise ValueError(f"not an ISO 8601 duration: {value!r}")
    d, h, mi, s = (int(g or 0) for g in m.groups())
    return timedelta(days=d, hours=h, minutes=mi, seconds=s)


class AwsIdentityCenter:
    """Thread-safe: the core may call it from several threads at once."""

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
        factory = client_factory or make_client_factory(aws)
        self._ids = factory("identitystore")
        self._sso = factory("sso-admin")
        self.policy = CallPolicy(
            calls_per_second=calls_per_second, backoff=backoff, sleep=sleep, clock=clock
        )
        self.poll_interval = poll_interval
        self.poll_timeout = poll_timeout
        self._sleep = sleep
        self._clock = clock
        self._creates = threading.BoundedSemaphore(max_outstanding_creates)
        self._users: TtlCache[tuple[str, str], str | None] = TtlCache(clock=clock)
        self._lookup_ttl = lookup_ttl
        self._miss_ttl = miss_ttl
        self._groups: TtlCache[str, str] = TtlCache(clock=clock)
        self._permission_sets: TtlCache[str, dict[str, Any]] = TtlCache(clock=clock)  # by ARN
        self._ps_names: TtlCache[str, str] = TtlCache(clock=clock)  # name -> ARN
        self._ps_list_lock = threading.Lock()
        self._account_locks: dict[str, threading.Lock] = {}
        self.snapshot_ttl = 5.0
        self._snapshot_guard = threading.Lock()
        self._snapshot_locks: dict[AccountAssignment, threading.Lock] = {}
        self._snapshots: dict[AccountAssignment, tuple[float, set[str]]] = {}
        self._account_locks_guard = threading.Lock()
        # (group id, user id) -> membership id, from creations and listings: a removal then
        # costs one call, not a lookup and a call. A stale id is looked up afresh.
        self._memberships: dict[tuple[str, str], str] = {}

    @property
    def _store(self) -> dict[str, str]:
        return {"IdentityStoreId": self.aws.identity_store_id}

    @property
    def _instance(self) -> dict[str, str]:
        return {"InstanceArn": self.aws.instance_arn}

    def _call(self, operation: str, fn: Callable[..., dict[str, Any]], **kw: Any) -> dict[str, Any]:
        return self.policy.call(operation, fn, **kw)

    # -- lookups ----------------------------------------------------------------------------

    @_translated("GetUserId")
    def find_user_id(self, attribute: str, value: str) -> str | None:
        key = (attribute.lower(), value)
        found, cached = self._users.get(key)
        if found:
            return cached
        try:
            user_id: str | None = self._call(
                "GetUserId",
                self._ids.get_user_id,
                **self._store,
                AlternateIdentifier={
                    "UniqueAttribute": {"AttributePath": attribute, "AttributeValue": value}
                },
            )["UserId"]
        except ClientError as exc:
            if error_code(exc) != NOT_FOUND:
                raise
            user_id = None
        # A miss is cached briefly: a user SCIM has not provisioned yet may appear any moment.
        self._users.put(key, user_id, self._lookup_ttl if user_id else self._miss_ttl)
        return user_id

    @_translated("DescribeGroup")
    def resolve_group(self, name_or_id: str) -> str:
        found, cached = self._groups.get(name_or_id)
        if found:
            return cached
        group_id = self._group_by_id(name_or_id) if _GROUP_ID.match(name_or_id) else None
        if group_id is None:
            try:
                group_id = self._call(
                    "GetGroupId",
                    self._ids.get_group_id,
                    **self._store,
                    AlternateIdentifier={
                        "UniqueAttribute": {
                            "AttributePath": "displayName",
                            "AttributeValue": name_or_id,
                        }
                    },
                )["GroupId"]
            except ClientError as exc:
                if error_code(exc) != NOT_FOUND:
                    raise
                raise AwsCallError(
                    "GetGroupId",
                    NOT_FOUND,
                    f"no Identity Center group with id or display name {name_or_id!r}",
                    temporary=False,
                ) from exc
        assert group_id is not None
        self._groups.put(name_or_id, group_id, self._lookup_ttl)
        return group_id

    def _group_by_id(self, group_id: str) -> str | None:
        try:
            return str(
                self._call(
                    "DescribeGroup", self._ids.describe_group, **self._store, GroupId=group_id
                )["GroupId"]
            )
        except ClientError as exc:
            if error_code(exc) != NOT_FOUND:
                raise
            return None

    @_translated("DescribePermissionSet")
    def resolve_permission_set(self, name_or_arn: str) -> str:
        if name_or_arn.startswith("arn:"):
            return str(self._describe_permission_set(name_or_arn)["PermissionSetArn"])
        found, arn = self._ps_names.get(name_or_arn)
        if found:
            return arn
        # A permission set created since the last listing is found by listing again, once.
        self._list_permission_sets()
        found, arn = self._ps_names.get(name_or_arn)
        if found:
            return arn
        raise AwsCallError(
            "ListPermissionSets",
            NOT_FOUND,
            f"no permission set named {name_or_arn!r} in {self.aws.instance_arn}",
            temporary=False,
        )

    def _describe_permission_set(self, arn: str) -> dict[str, Any]:
        found, ps = self._permission_sets.get(arn)
        if found:
            return ps
        try:
            ps = self._call(
                "DescribePermissionSet",
                self._sso.describe_permission_set,
                **self._instance,
                PermissionSetArn=arn,
            )["PermissionSet"]
        except ClientError as exc:
            if error_code(exc) != NOT_FOUND:
                raise
            raise AwsCallError(
                "DescribePermissionSet", NOT_FOUND, f"no permission set {arn}", temporary=False
            ) from exc
        self._permission_sets.put(arn, ps, self._lookup_ttl)
        self._ps_names.put(ps["Name"], arn, self._lookup_ttl)
        return ps

    def _list_permission_sets(self) -> None:
        with self._ps_list_lock:
            for arn in self._pages(
                "ListPermissionSets",
                self._sso.list_permission_sets,
                "PermissionSets",
                **self._instance,
            ):
                self._describe_permission_set(arn)

    # -- reads ------------------------------------------------------------------------------

    def _pages(
        self, operation: str, fn: Callable[..., dict[str, Any]], key: str, **kw: Any
    ) -> Iterator[Any]:
        token: str | None = None
        while True:
            page = self._call(operation, fn, **kw, **({"NextToken": token} if token else {}))
            yield from page.get(key, [])
            token = page.get("NextToken")
            if not token:
                return

    @_translated("ListHolders")
    def holders(self, target: Target) -> set[str]:
        if isinstance(target, GroupMembership):
            members: set[str] = set()
            for m in self._pages(
                "ListGroupMemberships",
                self._ids.list_group_memberships,
                "GroupMemberships",
                **self._store,
                GroupId=target.group_id,
            ):
                user = m.get("MemberId", {}).get("UserId")
                if user:
                    members.add(user)
                    if m.get("MembershipId"):
                        self._memberships[(target.group_id, user)] = m["MembershipId"]
            return members
        found = {
            a["PrincipalId"] for a in self._assignments(target) if a.get("PrincipalType") == "USER"
        }
        with self._snapshot_guard:
            # The freshest listing is the duplicate check for the creates that follow: an older
            # snapshot would skip re-adding an assignment removed out of band since.
            self._snapshots[target] = (self._clock() + self.snapshot_ttl, set(found))
        return found

    def _assignments(self, target: AccountAssignment) -> Iterator[dict[str, Any]]:
        return self._pages(
            "ListAccountAssignments",
            self._sso.list_account_assignments,
            "AccountAssignments",
            **self._instance,
            AccountId=target.account_id,
            PermissionSetArn=target.permission_set_arn,
        )

    def _assigned(self, user_id: str, target: AccountAssignment) -> bool:
        return any(
            a.get("PrincipalType") == "USER" and a.get("PrincipalId") == user_id
            for a in self._assignments(target)
        )

    # -- writes -----------------------------------------------------------------------------

    @_translated("Add")
    def add(self, user_id: str, target: Target) -> None:
        if isinstance(target, GroupMembership):
            self._add_member(user_id, target.group_id)
        else:
            self._add_assignment(user_id, target)

    @_translated("Remove")
    def remove(self, user_id: str, target: Target) -> None:
        if isinstance(target, GroupMembership):
            self._remove_member(user_id, target.group_id)
        else:
            self._remove_assignment(user_id, target)

    def _membership_id(self, user_id: str, group_id: str) -> str | None:
        try:
            return str(
                self._call(
                    "GetGroupMembershipId",
                    self._ids.get_group_membership_id,
                    **self._store,
                    GroupId=group_id,
                    MemberId={"UserId": user_id},
                )["MembershipId"]
            )
        except ClientError as exc:
            if error_code(exc) != NOT_FOUND:
                raise
            return None

    def _add_member(self, user_id: str, group_id: str) -> None:
        for attempt in range(self.policy.backoff.attempts):
            try:
                created = self._call(
                    "CreateGroupMembership",
                    self._ids.create_group_membership,
                    retry_on=RETRY_CODES - {CONFLICT},
                    **self._store,
                    GroupId=group_id,
                    MemberId={"UserId": user_id},
                )
                if created.get("MembershipId"):
                    self._memberships[(group_id, user_id)] = created["MembershipId"]
                return
            except ClientError as exc:
                if error_code(exc) != CONFLICT:
                    raise
                # Conflict means 'already a member' or 'someone else is writing': look.
                if self._membership_id(user_id, group_id) is not None:
                    return
                self._sleep(self.policy.backoff.delay(attempt, self.policy.rng))
        raise AwsCallError(
            "CreateGroupMembership", CONFLICT, "kept conflicting; gave up", temporary=True
        )

    def _remove_member(self, user_id: str, group_id: str) -> None:
        known = self._memberships.pop((group_id, user_id), None)
        if known is not None and self._delete_membership(known):
            return
        # Never known, or removed and perhaps re-created out of band since: look it up.
        membership_id = self._membership_id(user_id, group_id)
        if membership_id is not None:
            self._delete_membership(membership_id)

    def _delete_membership(self, membership_id: str) -> bool:
        """False when there is no such membership (any more)."""
        try:
            self._call(
                "DeleteGroupMembership",
                self._ids.delete_group_membership,
                **self._store,
                MembershipId=membership_id,
            )
        except ClientError as exc:
            if error_code(exc) != NOT_FOUND:
                raise
            return False
        return True

    def _assignment_args(self, user_id: str, target: AccountAssignment) -> dict[str, str]:
        return {
            **self._instance,
            "TargetId": target.account_id,
            "TargetType": "AWS_ACCOUNT",
            "PermissionSetArn": target.permission_set_arn,
            "PrincipalType": "USER",
            "PrincipalId": user_id,
        }

    def _add_assignment(self, user_id: str, target: AccountAssignment) -> None:
        if user_id in self._recent_holders(target):
            return
        with self._creates:
            status = self._call(
                "CreateAccountAssignment",
                self._sso.create_account_assignment,
                **self._assignment_args(user_id, target),
            )["AccountAssignmentCreationStatus"]
            self._await(
                "DescribeAccountAssignmentCreationStatus",
                status,
                lambda rid: self._sso.describe_account_assignment_creation_status(
                    **self._instance, AccountAssignmentCreationRequestId=rid
                )["AccountAssignmentCreationStatus"],
            )
        with self._snapshot_guard:
            if target in self._snapshots:
                self._snapshots[target][1].add(user_id)

    def _recent_holders(self, target: AccountAssignment) -> set[str]:
        """The duplicate check before a create, from one listing shared by the burst of creates
        on the same target for `snapshot_ttl` seconds: a listing per create would spend the
        instance's 20 calls/s on reads. Removals always list afresh: a stale "absent" there
        would leave access in place."""
        with self._snapshot_guard:
            lock = self._snapshot_locks.setdefault(target, threading.Lock())
        with lock:
            with self._snapshot_guard:
                cached = self._snapshots.get(target)
            if cached is not None and cached[0] > self._clock():
                return cached[1]
            holders = self.holders(target)
            with self._snapshot_guard:
                self._snapshots[target] = (self._clock() + self.snapshot_ttl, holders)
            return holders

    def _remove_assignment(self, user_id: str, target: AccountAssignment) -> None:
        """Delete without listing first: the ledger says we hold it, and a listing before every
        deletion would spend the instance's 20 calls/s (and a round trip) on the common case.
        An assignment that is not there is the goal reached, however AWS words it."""
        with self._snapshot_guard:
            if target in self._snapshots:
                self._snapshots[target][1].discard(user_id)
        try:
            status = self._call(
                "DeleteAccountAssignment",
                self._sso.delete_account_assignment,
                **self._assignment_args(user_id, target),
            )["AccountAssignmentDeletionStatus"]
            self._await(
                "DescribeAccountAssignmentDeletionStatus",
                status,
                lambda rid: self._sso.describe_account_assignment_deletion_status(
                    **self._instance, AccountAssignmentDeletionRequestId=rid
                )["AccountAssignmentDeletionStatus"],
            )
        except ClientError as exc:
            if error_code(exc) != NOT_FOUND:
                raise
        except AwsCallError as exc:
            if exc.code != "FAILED" or self._assigned(user_id, target):
                raise

    def _await(
        self, operation: str, status: dict[str, Any], describe: Callable[[str], dict[str, Any]]
    ) -> dict[str, Any]:
        """Poll an asynchronous request until it SUCCEEDED; FAILED or a timeout raises."""
        deadline = self._clock() + self.poll_timeout
        request_id = status["RequestId"]
        # Most requests finish within a second: look early and often, then settle at
        # poll_interval so polling does not eat the instance's 20 calls/s.
        delays = (min(self.poll_interval, 0.1 * (n + 1)) for n in itertools.count())
        while status.get("Status") not in _DONE:
            if self._clock() >= deadline:
                raise AwsCallError(
                    operation,
                    "Timeout",
                    f"request {request_id} still {status.get('Status')} after "
                    f"{self.poll_timeout:g}s",
                    temporary=True,
                )
            self._sleep(next(delays))
            status = self._call(operation, lambda: {"Status": describe(request_id)})["Status"]
        if status["Status"] == "FAILED":
            raise AwsCallError(
                operation,
                "FAILED",
                f"request {request_id} failed: {status.get('FailureReason') or 'no reason given'}",
                temporary=False,
            )
        return status

    # -- for revocation (DESIGN section 5) --------------------------------------------------

    @_translated("DescribePermissionSet")
    def session_duration(self, permission_set_arn: str) -> timedelta:
        ps = self._describe_permission_set(permission_set_arn)
        return parse_iso_duration(ps.get("SessionDuration") or "PT1H")

    @_translated("GetInlinePolicyForPermissionSet")
    def get_inline_policy(self, permission_set_arn: str) -> str:
        return str(
            self._call(
                "GetInlinePolicyForPermissionSet",
                self._sso.get_inline_policy_for_permission_set,
                **self._instance,
                PermissionSetArn=permission_set_arn,
            ).get("InlinePolicy")
            or ""
        )

    @_translated("PutInlinePolicyToPermissionSet")
    def put_inline_policy(self, permission_set_arn: str, document: str) -> None:
        """Write the inline policy; an empty document deletes it (AWS refuses an empty one)."""
        if document.strip():
            self._call(
                "PutInlinePolicyToPermissionSet",
                self._sso.put_inline_policy_to_permission_set,
                **self._instance,
                PermissionSetArn=permission_set_arn,
                InlinePolicy=document,
            )
        else:
            self._call(
                "DeleteInlinePolicyFromPermissionSet",
                self._sso.delete_inline_policy_from_permission_set,
                **self._instance,
                PermissionSetArn=permission_set_arn,
            )

    @contextmanager
    def _account_lock(self, account_id: str) -> Iterator[None]:
        with self._account_locks_guard:
            lock = self._account_locks.setdefault(account_id, threading.Lock())
        with lock:
            yield

    @_translated("ProvisionPermissionSet")
    def provision(self, permission_set_arn: str, account_id: str) -> None:
        """Push the permission set's current policies to the account and wait for it."""
        with self._account_lock(account_id):
            status = self._call(
                "ProvisionPermissionSet",
                self._sso.provision_permission_set,
                **self._instance,
                PermissionSetArn=permission_set_arn,
                TargetType="AWS_ACCOUNT",
                TargetId=account_id,
            )["PermissionSetProvisioningStatus"]
            self._await(
                "DescribePermissionSetProvisioningStatus",
                status,
                lambda rid: self._sso.describe_permission_set_provisioning_status(
                    **self._instance, ProvisionPermissionSetRequestId=rid
                )["PermissionSetProvisioningStatus"],
            )

    @_translated("ListAccountsForProvisionedPermissionSet")
    def assigned_accounts(self, permission_set_arn: str) -> list[str]:
        """Accounts the permission set is provisioned to (every account it is assigned on)."""
        return sorted(
            self._pages(
                "ListAccountsForProvisionedPermissionSet",
                self._sso.list_accounts_for_provisioned_permission_set,
                "AccountIds",
                **self._instance,
                PermissionSetArn=permission_set_arn,
            )
        )

    @_translated("ListAccountAssignmentsForPrincipal")
    def group_assignments(self, group_id: str) -> list[AccountAssignment]:
        """The account/permission-set pairs assigned to a group: what its members lose when
        they leave it, so where their older sessions must be denied."""
        return sorted(
            {
                AccountAssignment(a["AccountId"], a["PermissionSetArn"])
                for a in self._pages(
                    "ListAccountAssignmentsForPrincipal",
                    self._sso.list_account_assignments_for_principal,
                    "AccountAssignments",
                    **self._instance,
                    PrincipalId=group_id,
                    PrincipalType="GROUP",
                )
            }
        )

    # -- check-config -----------------------------------------------------------------------

    @_translated("DescribeInstance")
    def check(self) -> str:
        """Prove the instance and its identity store are reachable; a line for the operator."""
        try:
            instance = self._call("DescribeInstance", self._sso.describe_instance, **self._instance)
        except ClientError as exc:
            if error_code(exc) != "AccessDeniedException":
                raise
            # A role scoped to the bridge's own calls may lack sso:DescribeInstance.
            instances = self._pages("ListInstances", self._sso.list_instances, "Instances")
            instance = next((i for i in instances if i["InstanceArn"] == self.aws.instance_arn), {})
            if not instance:
                raise AwsCallError(
                    "ListInstances",
                    NOT_FOUND,
                    f"instance {self.aws.instance_arn} is not visible to these credentials",
                    temporary=False,
                ) from exc
        store = instance.get("IdentityStoreId")
        if store != self.aws.identity_store_id:
            raise AwsCallError(
                "DescribeInstance",
                "IdentityStoreMismatch",
                f"instance {self.aws.instance_arn} uses identity store {store}, "
                f"config says {self.aws.identity_store_id}",
                temporary=False,
            )
        self._call("ListGroups", self._ids.list_groups, **self._store, MaxResults=1)
        name = self.aws.instance_arn.rsplit("/", 1)[-1]
        return (
            f"Identity Center {name} ({instance.get('Status', 'ACTIVE')}), identity store {store}"
        )
