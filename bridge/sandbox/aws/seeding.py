"""Seeding the AWS sandbox and reading back what it holds, over HTTP through boto3's seeding
clients: users, groups, permission sets, memberships and account assignments, each in effect at
once and uncounted."""

from __future__ import annotations

from typing import Any

from bridge.sandbox.aws.clients import SandboxClients


class Seeding(SandboxClients):
    """Creates what a test or the demo starts from, and lists what is there now."""

    def create_user(
        self, user_name: str, display_name: str | None = None, email: str | None = None
    ) -> str:
        display = display_name or user_name.split("@", 1)[0]
        given, _, family = display.partition(" ")
        kwargs: dict[str, Any] = {
            "IdentityStoreId": self.identity_store_id,
            "UserName": user_name,
            "DisplayName": display,
            "Name": {"GivenName": given or display, "FamilyName": family or display},
        }
        if email:
            kwargs["Emails"] = [{"Value": email, "Type": "work", "Primary": True}]
        return str(self._seed_client("identitystore").create_user(**kwargs)["UserId"])

    def create_group(self, display_name: str, description: str | None = None) -> str:
        kwargs = {"IdentityStoreId": self.identity_store_id, "DisplayName": display_name}
        if description:
            kwargs["Description"] = description
        return str(self._seed_client("identitystore").create_group(**kwargs)["GroupId"])

    def create_permission_set(
        self, name: str, session_duration: str = "PT1H", inline_policy: str | None = None
    ) -> str:
        sso = self._seed_client("sso-admin")
        arn = str(
            sso.create_permission_set(
                InstanceArn=self.instance_arn, Name=name, SessionDuration=session_duration
            )["PermissionSet"]["PermissionSetArn"]
        )
        if inline_policy:
            sso.put_inline_policy_to_permission_set(
                InstanceArn=self.instance_arn, PermissionSetArn=arn, InlinePolicy=inline_policy
            )
        return arn

    def add_member(self, group_id: str, user_id: str) -> str:
        return str(
            self._seed_client("identitystore").create_group_membership(
                IdentityStoreId=self.identity_store_id,
                GroupId=group_id,
                MemberId={"UserId": user_id},
            )["MembershipId"]
        )

    def assign(
        self,
        account_id: str,
        permission_set_arn: str,
        principal_id: str,
        principal_type: str = "USER",
    ) -> None:
        """Create an assignment that takes effect at once, whatever `async_delay` is."""
        self._seed_client("sso-admin").create_account_assignment(
            InstanceArn=self.instance_arn,
            TargetId=account_id,
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=permission_set_arn,
            PrincipalType=principal_type,
            PrincipalId=principal_id,
        )

    def members(self, group_id: str) -> list[str]:
        pages = self._seed_client("identitystore").get_paginator("list_group_memberships")
        return [
            m["MemberId"]["UserId"]
            for page in pages.paginate(IdentityStoreId=self.identity_store_id, GroupId=group_id)
            for m in page["GroupMemberships"]
        ]

    def assignments(self, account_id: str, permission_set_arn: str) -> list[tuple[str, str]]:
        """(principal type, principal id) pairs as ListAccountAssignments lists them."""
        pages = self._seed_client("sso-admin").get_paginator("list_account_assignments")
        return [
            (a["PrincipalType"], a["PrincipalId"])
            for page in pages.paginate(
                InstanceArn=self.instance_arn,
                AccountId=account_id,
                PermissionSetArn=permission_set_arn,
            )
            for a in page["AccountAssignments"]
        ]
