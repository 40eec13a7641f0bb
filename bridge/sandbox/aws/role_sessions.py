"""Simulated role sessions on the AWS sandbox: a user signs in through a permission set, as the
AWS access portal would, and the session is then judged against the permission set's inline
policy as last provisioned to its account, and against an SCP (`bridge.sandbox.aws.sessions`
evaluates the policies)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from bridge.identity_center.adapter import parse_iso_duration
from bridge.sandbox.aws.seeding import Seeding
from bridge.sandbox.aws.sessions import Session
from bridge.sandbox.aws.sessions import is_allowed as session_allowed
from bridge.sandbox.aws.trail import SandboxTrail


class RoleSessions(Seeding):
    """Issues sessions to users who hold an assignment and answers whether each may still act.
    The running sandbox supplies `_provisioned_policy`."""

    def __init__(self) -> None:
        super().__init__()
        self._sessions: dict[str, Session] = {}
        self._sessions_lock = threading.Lock()
        self.scp_policy_id: str | None = None  # an SCP to evaluate sessions against
        self.trail: SandboxTrail | None = None  # when set, every judged call goes to CloudTrail

    def _provisioned_policy(self, permission_set_arn: str, account_id: str) -> str:
        """The permission set's inline policy as last provisioned to the account ("" if none)."""
        raise NotImplementedError

    def _holds(self, user_id: str, account_id: str, permission_set_arn: str) -> bool:
        principals = self.assignments(account_id, permission_set_arn)
        if ("USER", user_id) in principals:
            return True
        groups = {pid for ptype, pid in principals if ptype == "GROUP"}
        if not groups:
            return False
        pages = self._seed_client("identitystore").get_paginator(
            "list_group_memberships_for_member"
        )
        return any(
            m["GroupId"] in groups
            for page in pages.paginate(
                IdentityStoreId=self.identity_store_id, MemberId={"UserId": user_id}
            )
            for m in page["GroupMemberships"]
        )

    def issue_session(
        self, user_id: str, permission_set_arn: str, account_id: str, issued_at: datetime
    ) -> str:
        """Sign the user in through the permission set, as the AWS access portal would; refused
        (PermissionError) unless the user holds the assignment, directly or through a group."""
        if not self._holds(user_id, account_id, permission_set_arn):
            raise PermissionError(
                f"{user_id} holds no assignment of {permission_set_arn} on {account_id}"
            )
        described = self._seed_client("sso-admin").describe_permission_set(
            InstanceArn=self.instance_arn, PermissionSetArn=permission_set_arn
        )["PermissionSet"]
        duration = parse_iso_duration(described.get("SessionDuration") or "PT1H")
        session = Session(
            str(uuid.uuid4()), user_id, permission_set_arn, account_id, issued_at, duration
        )
        with self._sessions_lock:
            self._sessions[session.session_id] = session
        return session.session_id

    def is_allowed(
        self, session_id: str, action: str = "s3:ListBucket", now: datetime | None = None
    ) -> bool:
        """Whether the session may still call `action`: not expired, not denied by the
        permission set's inline policy as last provisioned to the session's account (as in
        AWS, a policy change reaches an account's role only when provisioned there), nor by
        the SCP named in `scp_policy_id` (every sandbox account is a member account)."""
        return bool(self.still_allowed([session_id], action, now))

    def still_allowed(
        self, session_ids: Iterable[str], action: str = "s3:ListBucket", now: datetime | None = None
    ) -> set[str]:
        """Those of the sessions `is_allowed` would allow, all judged at one moment: each
        policy is read once, so a watcher can ask about a thousand sessions many times a
        second."""
        when = now or datetime.now(UTC)
        scp = None
        if self.scp_policy_id:
            described = self._seed_client("organizations").describe_policy(
                PolicyId=self.scp_policy_id
            )
            scp = str(described["Policy"]["Content"])
        policies: dict[tuple[str, str], str] = {}
        allowed: set[str] = set()
        for session_id in session_ids:
            session = self._sessions[session_id]
            where = (session.permission_set_arn, session.account_id)
            if where not in policies:
                policies[where] = self._provisioned_policy(*where)
            ok = session_allowed(policies[where], session, action, when)
            if ok and scp is not None:
                ok = session_allowed(scp, session, action, when)
            if self.trail is not None:
                self.trail.record(session, action, when, ok)
            if ok:
                allowed.add(session_id)
        return allowed

    def session(self, session_id: str) -> Session:
        return self._sessions[session_id]
