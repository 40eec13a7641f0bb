"""The OData conventions every sandbox list follows: Graph's timestamps, `$top`, and server
paging with an opaque `$skiptoken` in `@odata.nextLink`."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from bridge.sandbox.graph.http import ApiRequest, ApiResponse, GraphApiError

JSON = {"Content-Type": "application/json"}


def iso(value: datetime | None) -> str | None:
    """Graph's timestamp: UTC, milliseconds, `Z`."""
    if value is None:
        return None
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


def ok(body: dict[str, Any]) -> ApiResponse:
    return ApiResponse(200, body, dict(JSON))


def page(
    req: ApiRequest, items: list[dict[str, Any]], *, size: int, context: str, next_url: str
) -> ApiResponse:
    """One page of `items` from the request's `$skiptoken`, at most `size` (or `$top`) long,
    with a nextLink to `next_url` carrying the rest of the request's query when more remain."""
    if req.query.get("$top", "").isdigit():
        size = min(size, max(1, int(req.query["$top"])))
    offset = _decode_skiptoken(req.query.get("$skiptoken"))
    body: dict[str, Any] = {"@odata.context": context}
    end = offset + size
    if end < len(items):
        query = {k: v for k, v in req.query.items() if k != "$skiptoken"}
        query["$skiptoken"] = _encode_skiptoken(end)
        body["@odata.nextLink"] = f"{next_url}?" + _query_string(query)
    body["value"] = items[offset:end]
    return ok(body)


def _encode_skiptoken(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _decode_skiptoken(token: str | None) -> int:
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        return max(0, int(raw.removeprefix("offset:")))
    except ValueError:
        raise GraphApiError(400, "BadRequest", "The $skiptoken is not valid.") from None


def _query_string(query: dict[str, str]) -> str:
    return "&".join(f"{k}={quote(v, safe=',')}" for k, v in query.items())
