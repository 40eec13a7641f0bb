"""The identity store: users and groups looked up, group memberships listed and written.

Membership writes are synchronous; a duplicate CreateGroupMembership is a ConflictException,
and so is a concurrent write, so a conflict is settled by looking.
"""

from __future__ import annotations

import re

from botocore.exceptions import ClientError

from bridge.identity_center.api import InstanceApi
from bridge.identity_center.cache import TtlCache
from bridge.identity_center.calls import (
    CONFLICT,
    RETRY_CODES,
    AwsCallError,
    error_code,
    not_found,
    translated,
)

# Identity Store group ids: a UUID, optionally behind a 10-hex-digit prefix.
_GROUP_ID = re.compile(
    r"^([0-9a-f]{10}-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I
)


class Directory:
    """Thread-safe. Lookups are cached for `lookup_ttl` seconds, a user not found for
    `miss_ttl`."""

    def __init__(self, api: InstanceApi, *, lookup_ttl: float, miss_ttl: float) -> None:
        self._api = api
        self._lookup_ttl = lookup_ttl
        self._miss_ttl = miss_ttl
        self._users: TtlCache[tuple[str, str], str | None] = TtlCache(clock=api.clock)
        self._groups: TtlCache[str, str] = TtlCache(clock=api.clock)
        self._names: TtlCache[str, str | None] = TtlCache(clock=api.clock)  # user id -> name
        # (group id, user id) -> membership id, from creations and listings: a removal then
        # costs one call, not a lookup and a call. A stale id is looked up afresh.
        self._memberships: dict[tuple[str, str], str] = {}

    # -- lookups ----------------------------------------------------------------------------

    @translated("GetUserId")
    def find_user_id(self, attribute: str, value: str) -> str | None:
        key = (attribute.lower(), value)
        match self._users.get(key):
            case True, cached:
                return cached
        answer = self._api.find(
            "GetUserId",
            self._api.ids.get_user_id,
            **self._api.store,
            AlternateIdentifier={
                "UniqueAttribute": {"AttributePath": attribute, "AttributeValue": value}
            },
        )
        user_id: str | None = answer["UserId"] if answer else None
        # A miss is cached briefly: a user SCIM has not provisioned yet may appear any moment.
        self._users.put(key, user_id, self._lookup_ttl if user_id else self._miss_ttl)
        return user_id

    @translated("DescribeGroup")
    def resolve_group(self, name_or_id: str) -> str:
        match self._groups.get(name_or_id):
            case True, cached:
                return cached
        group_id = self._group_by_id(name_or_id) if _GROUP_ID.match(name_or_id) else None
        if group_id is None:
            group_id = self._group_by_name(name_or_id)
        self._groups.put(name_or_id, group_id, self._lookup_ttl)
        return group_id

    @translated("DescribeGroup")
    def describe_group(self, group_id: str) -> tuple[str, str]:
        """The group's display name and description (empty when it has none)."""
        answer = self._api.find(
            "DescribeGroup", self._api.ids.describe_group, **self._api.store, GroupId=group_id
        )
        if answer is None:
            raise not_found("DescribeGroup", f"no Identity Center group {group_id}")
        return str(answer.get("DisplayName", "")), str(answer.get("Description") or "")

    def _group_by_id(self, group_id: str) -> str | None:
        answer = self._api.find(
            "DescribeGroup", self._api.ids.describe_group, **self._api.store, GroupId=group_id
        )
        return str(answer["GroupId"]) if answer else None

    def _group_by_name(self, name: str) -> str:
        answer = self._api.find(
            "GetGroupId",
            self._api.ids.get_group_id,
            **self._api.store,
            AlternateIdentifier={
                "UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": name}
            },
        )
        if answer is None:
            raise not_found(
                "GetGroupId", f"no Identity Center group with id or display name {name!r}"
            )
        return str(answer["GroupId"])

    @translated("DescribeUser")
    def user_name(self, user_id: str) -> str | None:
        """The user's Identity Center user name (what their role sessions are named after);
        None when there is no such user."""
        found, cached = self._names.get(user_id)
        if found:
            return cached
        answer = self._api.find(
            "DescribeUser", self._api.ids.describe_user, **self._api.store, UserId=user_id
        )
        name: str | None = str(answer["UserName"]) if answer else None
        self._names.put(user_id, name, self._lookup_ttl if name else self._miss_ttl)
        return name

    # -- memberships ------------------------------------------------------------------------

    @translated("ListHolders")
    def members(self, group_id: str) -> set[str]:
        """User ids of the group's direct members."""
        members: set[str] = set()
        for m in self._api.pages(
            "ListGroupMemberships",
            self._api.ids.list_group_memberships,
            "GroupMemberships",
            **self._api.store,
            GroupId=group_id,
        ):
            user = m.get("MemberId", {}).get("UserId")
            if user:
                members.add(user)
                if m.get("MembershipId"):
                    self._memberships[(group_id, user)] = m["MembershipId"]
        return members

    @translated("Add")
    def add_member(self, user_id: str, group_id: str) -> None:
        """Idempotent: a user already in the group is left there."""
        policy = self._api.policy
        for attempt in range(policy.backoff.attempts):
            try:
                created = self._api.call(
                    "CreateGroupMembership",
                    self._api.ids.create_group_membership,
                    retry_on=RETRY_CODES - {CONFLICT},
                    **self._api.store,
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
                self._api.sleep(policy.backoff.delay(attempt, policy.rng))
        raise AwsCallError(
            "CreateGroupMembership", CONFLICT, "kept conflicting; gave up", temporary=True
        )

    @translated("Remove")
    def remove_member(self, user_id: str, group_id: str) -> None:
        """Idempotent: a user not in the group is the goal reached."""
        known = self._memberships.pop((group_id, user_id), None)
        if known is not None and self._delete_membership(known):
            return
        # Never known, or removed and perhaps re-created out of band since: look it up.
        membership_id = self._membership_id(user_id, group_id)
        if membership_id is not None:
            self._delete_membership(membership_id)

    def _membership_id(self, user_id: str, group_id: str) -> str | None:
        answer = self._api.find(
            "GetGroupMembershipId",
            self._api.ids.get_group_membership_id,
            **self._api.store,
            GroupId=group_id,
            MemberId={"UserId": user_id},
        )
        return str(answer["MembershipId"]) if answer else None

    def _delete_membership(self, membership_id: str) -> bool:
        """False when there is no such membership (any more)."""
        deleted = self._api.find(
            "DeleteGroupMembership",
            self._api.ids.delete_group_membership,
            **self._api.store,
            MembershipId=membership_id,
        )
        return deleted is not None
