"""sso-admin permissions boundary calls moto lacks: `PutPermissionsBoundaryToPermissionSet`,
`GetPermissionsBoundaryForPermissionSet` and `DeletePermissionsBoundaryFromPermissionSet`.
The AWS provider sends them for `aws_ssoadmin_permissions_boundary_attachment`.

moto's permission set object has no place for a boundary, so each is kept beside the object it
belongs to (keyed weakly on it): deleting the permission set in moto forgets its boundary."""

from __future__ import annotations

import weakref
from typing import Any

from moto.ssoadmin.models import PermissionSet

from bridge.sandbox.aws.api import SSO_PREFIX, ApiError, Backends, Handler


class PermissionsBoundaries:
    def __init__(self, backends: Backends) -> None:
        self.backends = backends
        self._boundaries: weakref.WeakKeyDictionary[PermissionSet, dict[str, Any]] = (
            weakref.WeakKeyDictionary()
        )

    def handlers(self) -> dict[str, Handler]:
        return {
            SSO_PREFIX + "PutPermissionsBoundaryToPermissionSet": self._put,
            SSO_PREFIX + "GetPermissionsBoundaryForPermissionSet": self._get,
            SSO_PREFIX + "DeletePermissionsBoundaryFromPermissionSet": self._delete,
        }

    def _permission_set(self, params: dict[str, Any], region: str) -> PermissionSet:
        for ps in self.backends.sso(region).permission_sets:
            if (
                ps.instance_arn == params["InstanceArn"]
                and ps.permission_set_arn == params["PermissionSetArn"]
            ):
                return ps
        raise ApiError("ResourceNotFoundException", "Could not find the permission set")

    def _put(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        ps = self._permission_set(params, region)
        self._boundaries[ps] = _validated(params.get("PermissionsBoundary") or {})
        return {}

    def _get(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        boundary = self._boundaries.get(self._permission_set(params, region))
        if boundary is None:
            raise ApiError("ResourceNotFoundException", "The permission set has no boundary")
        return {"PermissionsBoundary": boundary}

    def _delete(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        ps = self._permission_set(params, region)
        if self._boundaries.pop(ps, None) is None:
            raise ApiError("ResourceNotFoundException", "The permission set has no boundary")
        return {}


def _validated(boundary: dict[str, Any]) -> dict[str, Any]:
    """Exactly one of an AWS managed policy ARN or a customer managed policy reference, as AWS
    requires; the reference's path defaults to / as in AWS's answers."""
    arn = boundary.get("ManagedPolicyArn")
    reference: dict[str, Any] | None = boundary.get("CustomerManagedPolicyReference")
    if reference is None and arn is not None:
        return {"ManagedPolicyArn": arn}
    if reference is None or arn is not None:
        raise ApiError(
            "ValidationException",
            "A permissions boundary is either ManagedPolicyArn or CustomerManagedPolicyReference",
        )
    if not reference.get("Name"):
        raise ApiError("ValidationException", "CustomerManagedPolicyReference needs a Name")
    return {
        "CustomerManagedPolicyReference": {
            "Name": reference["Name"],
            "Path": reference.get("Path") or "/",
        }
    }
