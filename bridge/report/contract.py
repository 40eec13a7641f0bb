"""The JSON report's schema (JSON Schema 2020-12), versioned: a field is added in a minor
version, and removed or changed in meaning only in a major one. docs/report.md describes it."""

from __future__ import annotations

from typing import Any

from bridge.report.columns import COLUMNS

# 1.1: each row's `activity` object, the summary's `activity` (`report --activity`).
# 1.2: `provenance`; each row's `ticket_system` and `end_requested_at`; the filters'
# `poll_interval_s`.
# 1.3: each row's `end_note` (who revoked it and why).
SCHEMA_VERSION = "1.3"
SCHEMA_ID = "pim-bridge/report/v1"

_UTC_SECONDS = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"
_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "datetime": {"type": "string", "format": "date-time", "pattern": _UTC_SECONDS},
    "number": {"type": "number"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "array": {"type": "array", "items": {"type": "string"}},
}


def _column_schema(kind: str, nullable: bool) -> dict[str, Any]:
    base = dict(_TYPES[kind])
    if not nullable:
        return base
    return {"anyOf": [base, {"type": "null"}]}


def _row_schema() -> dict[str, Any]:
    """Plain columns as properties; dotted ones (`activity.calls`) as properties of an object
    that is null when the report has none of them."""
    plain = {c.name: _column_schema(c.type, c.nullable) for c in COLUMNS if "." not in c.name}
    objects: dict[str, dict[str, Any]] = {}
    for c in COLUMNS:
        obj, dot, name = c.name.partition(".")
        if dot:
            objects.setdefault(obj, {})[name] = _column_schema(c.type, c.nullable)
    nested = {
        obj: {
            "anyOf": [
                {
                    "type": "object",
                    "required": list(fields),
                    "additionalProperties": False,
                    "properties": fields,
                },
                {"type": "null"},
            ]
        }
        for obj, fields in objects.items()
    }
    return {
        "type": "object",
        "required": [*plain, *nested],
        "additionalProperties": False,
        "properties": {**plain, **nested},
    }


_ACTIVITY_COUNTS = (
    "grants",
    "calls",
    "used_after_end",
    "denied_after_end",
    "unused_grants",
    "log_files",
    "records",
    "attributed",
    "unattributed",
    "other",
)
_ACTIVITY_SUMMARY = {
    "type": "object",
    "required": [*_ACTIVITY_COUNTS, "skipped"],
    "properties": {
        **{k: {"type": "integer"} for k in _ACTIVITY_COUNTS},
        "skipped": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "reason"],
                "properties": {"key": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}


_STATS = {
    "type": "object",
    "required": ["count", "p50", "p95", "max"],
    "properties": {
        "count": {"type": "integer"},
        "p50": {"type": ["number", "null"]},
        "p95": {"type": ["number", "null"]},
        "max": {"type": ["number", "null"]},
        "unknown": {"type": "integer"},
    },
}

_NULLABLE_TIME = {"anyOf": [_TYPES["datetime"], {"type": "null"}]}
_NULLABLE_TEXT = {"type": ["string", "null"]}
_SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}

_FILTERS: dict[str, Any] = {
    "type": "object",
    "required": [
        "since",
        "until",
        "users",
        "groups",
        "mappings",
        "accounts",
        "revoke_target_s",
        "poll_interval_s",
    ],
    "properties": {
        "since": _NULLABLE_TIME,
        "until": _NULLABLE_TIME,
        "users": {"type": "array", "items": {"type": "string"}},
        "groups": {"type": "array", "items": {"type": "string"}},
        "mappings": {"type": "array", "items": {"type": "string"}},
        "accounts": {"type": "array", "items": {"type": "string"}},
        "revoke_target_s": {"type": "number"},
        "poll_interval_s": {"type": "number"},
    },
}

_PROVENANCE_FIELDS: dict[str, Any] = {
    "tenant": _NULLABLE_TEXT,
    "config_file": _NULLABLE_TEXT,
    "config_sha256": {"anyOf": [_SHA256, {"type": "null"}]},
    "bridge_version": {"type": "string"},
    "generated_at": _TYPES["datetime"],
    "filters": _FILTERS,
    "rows": {"type": "integer", "minimum": 0},
    "rows_sha256": _SHA256,
    "rows_sha256_covers": {"type": "string"},
    "scim_simulated": _NULLABLE_TEXT,
}
_PROVENANCE = {
    "type": "object",
    "required": list(_PROVENANCE_FIELDS),
    "additionalProperties": False,
    "properties": _PROVENANCE_FIELDS,
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "title": "pim-bridge audit report",
    "type": "object",
    "required": [
        "schema",
        "schema_version",
        "generated_at",
        "filters",
        "rows",
        "anomalies",
        "summary",
        "provenance",
    ],
    "properties": {
        "schema": {"const": SCHEMA_ID},
        "schema_version": {"type": "string", "pattern": r"^1\.\d+$"},
        "generated_at": _TYPES["datetime"],
        "filters": _FILTERS,
        "rows": {"type": "array", "items": _row_schema()},
        "anomalies": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["kind", "severity", "first_at", "last_at", "count", "detail"],
                "properties": {
                    "kind": {"type": "string"},
                    "severity": {"enum": ["critical", "warning", "info"]},
                    "first_at": _TYPES["datetime"],
                    "last_at": _TYPES["datetime"],
                    "count": {"type": "integer", "minimum": 1},
                    "detail": {"type": "string"},
                    "user": {"type": ["string", "null"]},
                    "mapping": {"type": ["string", "null"]},
                    "target": {"type": ["string", "null"]},
                    "grant_id": {"type": ["integer", "null"]},
                },
            },
        },
        "summary": {
            "type": "object",
            "required": [
                "grants",
                "users",
                "by_mapping",
                "live",
                "ended",
                "revoked",
                "continued_by_another_grant",
                "still_held_after_end",
                "anomalies",
                "latency",
            ],
            "properties": {
                "grants": {"type": "integer"},
                "users": {"type": "integer"},
                "by_mapping": {"type": "object", "additionalProperties": {"type": "integer"}},
                "live": {"type": "integer"},
                "ended": {"type": "object", "additionalProperties": {"type": "integer"}},
                "revoked": {"type": "integer"},
                "continued_by_another_grant": {"type": "integer"},
                "still_held_after_end": {"type": "integer"},
                "anomalies": {
                    "type": "object",
                    "required": ["total", "by_kind"],
                    "properties": {
                        "total": {"type": "integer"},
                        "by_kind": {"type": "object", "additionalProperties": {"type": "integer"}},
                    },
                },
                "latency": {
                    "type": "object",
                    "required": [
                        "activation_to_access_s",
                        "end_to_revoked_s",
                        "scim_lag_s",
                        "scim_removal_lag_s",
                    ],
                    "properties": {
                        "activation_to_access_s": _STATS,
                        "end_to_revoked_s": _STATS,
                        "scim_lag_s": _STATS,
                        "scim_removal_lag_s": _STATS,
                    },
                },
                "activity": _ACTIVITY_SUMMARY,
            },
        },
        "provenance": _PROVENANCE,
    },
}
