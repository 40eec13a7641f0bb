"""identitystore calls moto gets wrong or lacks. A duplicate `CreateGroupMembership` is a
ConflictException and deleting an unknown membership id a ResourceNotFoundException (moto
accepts both silently); `UpdateGroup` (display name and description), which Terraform sends on
change, is missing in moto."""

from __future__ import annotations

from typing import Any

from moto.core.exceptions import JsonRESTError

from bridge.sandbox.aws.api import IDS_PREFIX, ApiError, Backends, Handler

_GROUP_FIELDS = {"displayname": "DisplayName", "description": "Description"}


class IdentityStoreCalls:
    def __init__(self, backends: Backends) -> None:
        self.backends = backends

    def handlers(self) -> dict[str, Handler]:
        return {
            IDS_PREFIX + "CreateGroupMembership": self._create_membership,
            IDS_PREFIX + "DeleteGroupMembership": self._delete_membership,
            IDS_PREFIX + "UpdateGroup": self._update_group,
        }

    def _create_membership(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        backend = self.backends.ids(region)
        store, group, member = params["IdentityStoreId"], params["GroupId"], params["MemberId"]
        try:
            backend.get_group_membership_id(store, group, member)
        except JsonRESTError:
            membership_id, store = backend.create_group_membership(store, group, member)
            return {"MembershipId": membership_id, "IdentityStoreId": store}
        raise ApiError("ConflictException", "Member and Group relationship already exists")

    def _delete_membership(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        backend = self.backends.ids(region)
        store, membership_id = params["IdentityStoreId"], params["MembershipId"]
        try:
            backend.describe_group_membership(store, membership_id)
        except JsonRESTError as err:
            raise ApiError("ResourceNotFoundException", "Membership does not exist") from err
        backend.delete_group_membership(store, membership_id)
        return {}

    def _update_group(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        store = self.backends.ids(region).identity_stores.get(params["IdentityStoreId"])
        group = store.groups.get(params["GroupId"]) if store else None
        if store is None or group is None:
            raise ApiError("ResourceNotFoundException", "GROUP not found.")
        for op in params.get("Operations", []):
            name = _GROUP_FIELDS.get(str(op.get("AttributePath", "")).lower())
            if name is None:
                raise ApiError("ValidationException", f"Cannot update {op.get('AttributePath')}")
            group = group._replace(**{name: op.get("AttributeValue")})
        store.groups[group.GroupId] = group
        return {}
