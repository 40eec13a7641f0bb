"""Probe of Identity Center's SCIM endpoint with scim2-client (sync, over httpx2), and the AWS
Health event that announces the SCIM token's expiry.

The probe proves the token is accepted (401 means every SCIM export from Entra fails: critical)
and that the mapped groups and a sample of users exist as SCIM sees them. Identity Center's SCIM
endpoint answers a group read with no members, so membership is never compared here; it is read
through the identitystore API by the reconciler. Only `eq` filters are used (all it supports).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bridge.config import AwsConfig
from bridge.errors import Unreadable
from bridge.identity_center.client import make_client_factory

log = logging.getLogger(__name__)

TOKEN_EXPIRY_EVENT = "AWS_IAMIDENTITYCENTER_SCIM_BEARER_TOKEN_EXPIRY_NOTIFICATION"


@dataclass
class ScimProbe:
    reached: bool = False
    status: int | None = None  # HTTP status of a refused request, e.g. 401
    error: str | None = None
    groups_found: list[str] = field(default_factory=list)
    groups_missing: list[str] = field(default_factory=list)
    users_found: list[str] = field(default_factory=list)
    users_missing: list[str] = field(default_factory=list)

    @property
    def token_rejected(self) -> bool:
        return self.status in (401, 403)


def probe_scim(
    endpoint: str,
    token: str,
    groups: Sequence[str],
    users: Sequence[str],
    *,
    timeout: float = 10.0,
) -> ScimProbe:
    """Look up each group by displayName and each user by userName. Never raises for what the
    endpoint answers; the token appears only in the Authorization header."""
    # Imported here: scim2-client's models cost a service some 30 MB of memory, and a bridge
    # without `[scim] endpoint` never probes.
    import httpx2
    from scim2_client import SCIMClientException
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_models import Group, SCIMException, ScimProvider, SearchRequest, User

    out = ScimProbe()
    http = httpx2.Client(
        base_url=endpoint.rstrip("/"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout,
    )
    client = SyncSCIMClient(http, provider=ScimProvider(models=[User, Group]))
    lookups: list[tuple[type[Any], str, str, list[str], list[str]]] = [
        (Group, "displayName", g, out.groups_found, out.groups_missing) for g in groups
    ] + [(User, "userName", u, out.users_found, out.users_missing) for u in users]
    if not lookups:
        # Nothing to look up still needs a request that proves the token.
        lookups = [(User, "userName", "pim-bridge-probe", [], [])]
    try:
        for model, attribute, value, found, missing in lookups:
            quoted = value.replace("\\", "\\\\").replace('"', '\\"')
            result = client.query(
                model, query_parameters=SearchRequest(filter=f'{attribute} eq "{quoted}"')
            )
            out.reached = True
            (found if getattr(result, "total_results", 0) else missing).append(value)
    except SCIMException as exc:
        out.reached = True
        out.status = int(getattr(exc, "status", 0) or 0) or None
        out.error = f"HTTP {out.status}: {type(exc).__name__}"
    except SCIMClientException as exc:
        # Non-SCIM answers (a gateway's 401 page, a wrong content type) carry the response.
        status = getattr(getattr(exc, "source", None), "status_code", None)
        out.reached = status is not None
        out.status = status
        out.error = f"HTTP {status}: {exc}" if status else f"{type(exc).__name__}: {exc}"
    except httpx2.HTTPError as exc:
        out.error = f"{type(exc).__name__}"
    finally:
        http.close()
    return out


def scim_token_expiry_event(aws: AwsConfig) -> datetime | Unreadable | None:
    """Start of the open or upcoming AWS Health event for the SCIM token's expiry (AWS sends it
    from 90 days out), None when there is none, Unreadable when the account cannot read AWS
    Health (its API needs a Business or Enterprise support plan and lives in us-east-1)."""
    if aws.endpoint_url:
        # moto and LocalStack do not serve AWS Health; asking them only logs their errors.
        return Unreadable("AWS Health is not read through an endpoint override")
    # boto3 builds the client's methods at run time, from the service model.
    client: Any = make_client_factory(aws.model_copy(update={"region": "us-east-1"}))("health")
    try:
        reply = client.describe_events(
            filter={
                "eventTypeCodes": [TOKEN_EXPIRY_EVENT],
                "eventStatusCodes": ["open", "upcoming"],
            }
        )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        if code == "SubscriptionRequiredException":
            return Unreadable("AWS Health needs a Business or Enterprise support plan")
        return Unreadable(f"AWS Health: {code}", "health:DescribeEvents")
    except BotoCoreError as exc:
        return Unreadable(f"AWS Health: {type(exc).__name__}")
    starts = [
        e["startTime"]
        for e in reply.get("events", [])
        if isinstance(e, dict) and isinstance(e.get("startTime"), datetime)
    ]
    return min(starts) if starts else None
