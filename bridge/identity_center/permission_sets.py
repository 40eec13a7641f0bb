"""Permission sets by name or ARN, described once per `lookup_ttl` and kept for what they say:
their ARN, their name and their session duration."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from bridge.identity_center.api import InstanceApi
from bridge.identity_center.cache import TtlCache
from bridge.identity_center.calls import not_found, translated
from bridge.iso8601 import parse_iso_duration

__all__ = ["PermissionSets", "parse_iso_duration"]


class PermissionSets:
    """Thread-safe."""

    def __init__(self, api: InstanceApi, *, lookup_ttl: float) -> None:
        self._api = api
        self._lookup_ttl = lookup_ttl
        self._described: TtlCache[str, dict[str, Any]] = TtlCache(clock=api.clock)  # by ARN
        self._arns: TtlCache[str, str] = TtlCache(clock=api.clock)  # name -> ARN
        self._list_lock = threading.Lock()

    @translated("DescribePermissionSet")
    def resolve(self, name_or_arn: str) -> str:
        """The ARN of the permission set named or given by ARN; AwsCallError when none is."""
        if name_or_arn.startswith("arn:"):
            return str(self.describe(name_or_arn)["PermissionSetArn"])
        match self._arns.get(name_or_arn):
            case True, arn:
                return arn
        # A permission set created since the last listing is found by listing again, once.
        self._list()
        match self._arns.get(name_or_arn):
            case True, arn:
                return arn
        raise not_found(
            "ListPermissionSets",
            f"no permission set named {name_or_arn!r} in {self._api.aws.instance_arn}",
        )

    @translated("DescribePermissionSet")
    def session_duration(self, permission_set_arn: str) -> timedelta:
        ps = self.describe(permission_set_arn)
        return parse_iso_duration(ps.get("SessionDuration") or "PT1H")

    @translated("DescribePermissionSet")
    def name(self, permission_set_arn: str) -> str:
        return str(self.describe(permission_set_arn)["Name"])

    def describe(self, arn: str) -> dict[str, Any]:
        """DescribePermissionSet's answer, cached; AwsCallError when there is no such set."""
        match self._described.get(arn):
            case True, cached:
                return cached
        answer = self._api.find(
            "DescribePermissionSet",
            self._api.sso.describe_permission_set,
            **self._api.instance,
            PermissionSetArn=arn,
        )
        if answer is None:
            raise not_found("DescribePermissionSet", f"no permission set {arn}")
        ps: dict[str, Any] = answer["PermissionSet"]
        self._described.put(arn, ps, self._lookup_ttl)
        self._arns.put(ps["Name"], arn, self._lookup_ttl)
        return ps

    def _list(self) -> None:
        with self._list_lock:
            for arn in self._api.pages(
                "ListPermissionSets",
                self._api.sso.list_permission_sets,
                "PermissionSets",
                **self._api.instance,
            ):
                self.describe(arn)
