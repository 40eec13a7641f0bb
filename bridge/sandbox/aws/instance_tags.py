"""sso-admin calls moto lacks around the instance and permission set tags: `DescribeInstance`,
`ListTagsForResource`, `TagResource` and `UntagResource`. The AWS provider reads the tags after
creating a permission set; tags live on moto's permission set object."""

from __future__ import annotations

from typing import Any

from bridge.sandbox.aws.api import SSO_PREFIX, ApiError, Backends, Handler


class InstanceAndTags:
    def __init__(self, backends: Backends) -> None:
        self.backends = backends

    def handlers(self) -> dict[str, Handler]:
        return {
            SSO_PREFIX + "DescribeInstance": self._describe_instance,
            SSO_PREFIX + "ListTagsForResource": self._list_tags,
            SSO_PREFIX + "TagResource": self._tag,
            SSO_PREFIX + "UntagResource": self._untag,
        }

    def _describe_instance(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        for instance in self.backends.sso(region).instances:
            if instance.instance_arn == params["InstanceArn"]:
                return {k: v for k, v in instance.to_json().items() if v is not None}
        raise ApiError("ResourceNotFoundException", "Instance does not exist")

    def _tagged(self, params: dict[str, Any], region: str) -> list[dict[str, str]] | None:
        """The permission set's tag list (moto keeps it on the object); None for the instance."""
        backend = self.backends.sso(region)
        arn = params["ResourceArn"]
        if any(i.instance_arn == arn for i in backend.instances):
            return None
        for ps in backend.permission_sets:
            if ps.permission_set_arn == arn:
                if ps.tags is None:
                    ps.tags = []
                return ps.tags
        raise ApiError("ResourceNotFoundException", f"Resource {arn} does not exist")

    def _list_tags(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        return {"Tags": list(self._tagged(params, region) or [])}

    def _tag(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        tags = self._tagged(params, region)
        if tags is None:
            raise ApiError("ValidationException", "Tagging the instance is not supported here")
        new = {t["Key"]: t.get("Value", "") for t in params.get("Tags", [])}
        tags[:] = [t for t in tags if t["Key"] not in new]
        tags.extend({"Key": k, "Value": v} for k, v in new.items())
        return {}

    def _untag(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        tags = self._tagged(params, region)
        if tags is not None:
            drop = set(params.get("TagKeys", []))
            tags[:] = [t for t in tags if t["Key"] not in drop]
        return {}
