"""`check-config` for Identity Center: the instance is reachable, uses the identity store the
config names, and that store answers."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from bridge.identity_center.api import InstanceApi
from bridge.identity_center.calls import AwsCallError, error_code, not_found, translated


@translated("DescribeInstance")
def check_instance(api: InstanceApi) -> str:
    """Prove the instance and its identity store are reachable; a line for the operator."""
    instance = _describe(api)
    store = instance.get("IdentityStoreId")
    if store != api.aws.identity_store_id:
        raise AwsCallError(
            "DescribeInstance",
            "IdentityStoreMismatch",
            f"instance {api.aws.instance_arn} uses identity store {store}, "
            f"config says {api.aws.identity_store_id}",
            temporary=False,
        )
    api.call("ListGroups", api.ids.list_groups, **api.store, MaxResults=1)
    name = api.aws.instance_arn.rsplit("/", 1)[-1]
    return f"Identity Center {name} ({instance.get('Status', 'ACTIVE')}), identity store {store}"


def _describe(api: InstanceApi) -> dict[str, Any]:
    try:
        return api.call("DescribeInstance", api.sso.describe_instance, **api.instance)
    except ClientError as exc:
        if error_code(exc) != "AccessDeniedException":
            raise
        # A role scoped to the bridge's own calls may lack sso:DescribeInstance.
        instances = api.pages("ListInstances", api.sso.list_instances, "Instances")
        instance: dict[str, Any] = next(
            (i for i in instances if i["InstanceArn"] == api.aws.instance_arn), {}
        )
        if not instance:
            raise not_found(
                "ListInstances",
                f"instance {api.aws.instance_arn} is not visible to these credentials",
            ) from exc
        return instance
