"""The columns of a grant row, in order, with their type and meaning. CSV, JSON, the JSON schema
and docs/report.md all follow this one list. A dotted name (`activity.calls`) is a field of an
object in JSON (`"activity": {"calls": …}`, null as a whole when the report read no activity)
and a column of its own in CSV."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from bridge.report import activity
from bridge.report.query import iso
from bridge.report.rows import GrantRow


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # string | datetime | number | integer | boolean | array
    doc: str
    nullable: bool = True
    get: Callable[[GrantRow], Any] | None = None  # default: the row's attribute `name`

    @property
    def getter(self) -> Callable[[GrantRow], Any]:
        return self.get or attrgetter(self.name)


COLUMNS: tuple[Column, ...] = (
    Column("grant_id", "integer", "the ledger's id of the grant", nullable=False),
    Column("user", "string", "the user's matched attribute, e.g. the UPN", nullable=False),
    Column("ic_user_id", "string", "Identity Center user id", nullable=False),
    Column("principal_id", "string", "Entra object id of the user", nullable=False),
    Column("mapping", "string", "the config mapping that granted it", nullable=False),
    Column("entra_group_id", "string", "the mapping's PIM group (from the config, when given)"),
    Column("target_kind", "string", "`group` (membership) or `assignment`", nullable=False),
    Column(
        "target",
        "string",
        "Identity Center group name, or `permission set @ account`",
        nullable=False,
    ),
    Column("ic_group_id", "string", "Identity Center group id (group rows)"),
    Column("account_id", "string", "AWS account (assignment rows)"),
    Column("permission_set_arn", "string", "permission set ARN (assignment rows)"),
    Column("source_instance_id", "string", "the PIM schedule instance id", nullable=False),
    Column(
        "justification",
        "string",
        "every justification PIM recorded for the activation, in order (the activation's, then "
        "each extension's), joined by ` | `",
    ),
    Column(
        "ticket", "string", "ticket number(s) from the PIM requests (`ticketInfo.ticketNumber`)"
    ),
    Column("ticket_system", "string", "the ticket's system (`ticketInfo.ticketSystem`)"),
    Column(
        "approver",
        "string",
        "the administrator who made an admin request (an assignment or extension); empty for "
        "self-activations: Graph lets no application read PIM approvals",
    ),
    Column(
        "activated_at",
        "datetime",
        "PIM's start of the activation (requested and approved before this)",
        nullable=False,
    ),
    Column("scheduled_end", "datetime", "PIM's end time, after any extension"),
    Column("seen_at", "datetime", "when the bridge first read the activation", nullable=False),
    Column("provisioned_at", "datetime", "when Identity Center confirmed the access"),
    Column(
        "extended_count",
        "integer",
        "how often the end time moved (extensions, renewals)",
        nullable=False,
    ),
    Column("state", "string", "`live` or `ended`", nullable=False),
    Column(
        "ended_at",
        "datetime",
        "when the grant ended: PIM's end, or when the bridge saw a deactivation",
    ),
    Column(
        "end_requested_at",
        "datetime",
        "PIM's own time of the deactivation request (its `createdDateTime` in Graph), when "
        "Graph listed one; `end_to_revoked_s` counts from it",
    ),
    Column("end_reason", "string", "`expired`, `deactivated` or `revoked`"),
    Column("end_note", "string", "who revoked it and why (`pim-bridge revoke`)"),
    Column("revoked_at", "datetime", "when Identity Center confirmed the removal"),
    Column("continued_by", "string", "another live grant that kept the same access at the end"),
    Column(
        "still_held",
        "boolean",
        "ended, not continued, and the bridge still holds it",
        nullable=False,
    ),
    Column("revoke_failures", "integer", "failed or interrupted removal attempts", nullable=False),
    Column("revoke_error", "string", "the last removal error, when one failed"),
    Column("denial_status", "string", "stale-session denial: `provisioned`, `failed`, `overflow`"),
    Column("denial_applied_at", "datetime", "when the denial was provisioned to every account"),
    Column(
        "denial_pruned_at",
        "datetime",
        "when the denial was pruned from the policy (null while the ledger records no prunes)",
    ),
    Column(
        "activation_to_access_s",
        "number",
        "seconds from activated_at to provisioned_at "
        "(0 when another grant already gave the access)",
    ),
    Column(
        "end_to_revoked_s",
        "number",
        "seconds from the end (`end_requested_at` when known, else `ended_at`) to revoked_at",
    ),
    Column(
        "scim_lag_s",
        "number",
        "seconds from the PIM activation to Entra's SCIM exporting the membership (what the "
        "bridge saved); null (CSV: `unknown`) without a sample",
    ),
    Column(
        "scim_removal_lag_s",
        "number",
        "seconds from the PIM end to SCIM exporting the removal; null (CSV: `unknown`) "
        "without a sample",
    ),
    Column(
        "anomalies",
        "array",
        "anomaly kinds of this row: `outlived_end`, `revocation_failed`, and with "
        "`--activity` `used_after_end`, `denied_after_end`, `unused_grant`",
        nullable=False,
    ),
    Column(
        "activity.first_use",
        "datetime",
        "the first call of the grant's sessions that succeeded (CloudTrail)",
        get=activity.first_use,
    ),
    Column("activity.last_use", "datetime", "the last call that succeeded", get=activity.last_use),
    Column(
        "activity.calls",
        "integer",
        "calls the grant's sessions made, refused ones included",
        get=activity.calls,
    ),
    Column("activity.errors", "integer", "calls that failed (any errorCode)", get=activity.errors),
    Column(
        "activity.services",
        "array",
        "the busiest services called (eventSource), busiest first, at most five",
        get=activity.services,
    ),
    Column(
        "activity.used_after_end",
        "integer",
        "calls that succeeded more than 2 s after the end: revocation did not hold",
        get=activity.used_after_end,
    ),
    Column(
        "activity.denied_after_end",
        "integer",
        "calls refused after the end: revocation held",
        get=activity.denied_after_end,
    ),
    Column(
        "activity.complete",
        "boolean",
        "every log file of the grant's window, to its end plus `after_end`, has been read",
        get=activity.complete,
    ),
)

NAMES = tuple(c.name for c in COLUMNS)


def _keep(value: Any) -> Any:
    return value


def _json_number(value: float) -> float:
    return round(value, 3)


# Each converter is given a value, never None: none stays null in JSON and is each column's
# own text in CSV, without a call per empty cell (a report formats millions of cells).
_JSON: dict[str, Callable[[Any], Any]] = {
    "datetime": iso,
    "number": _json_number,
    "array": list,
}
# Plain columns are read with one attrgetter; the dotted ones, which come last, each through
# their own getter, and only when the row has their object (all none without it).
_PLAIN = tuple(c for c in COLUMNS if c.get is None)
_DOTTED = tuple(c for c in COLUMNS if c.get is not None)
assert COLUMNS == _PLAIN + _DOTTED, "dotted columns come after the plain ones"
_plain_values = attrgetter(*(c.name for c in _PLAIN))
_plain_names = tuple(c.name for c in _PLAIN)
# Only the columns whose JSON differs from the value are converted, each by its own function.
_json_converted = tuple((c.name, _JSON[c.type]) for c in _PLAIN if c.type in _JSON)
Field = tuple[str, Callable[[GrantRow], Any], Callable[[Any], Any]]  # name, getter, to JSON


def _objects(columns: tuple[Column, ...]) -> dict[str, list[Field]]:
    found: dict[str, list[Field]] = {}
    for c in columns:
        obj, _, name = c.name.partition(".")
        found.setdefault(obj, []).append((name, c.getter, _JSON.get(c.type, _keep)))
    return found


_json_objects = _objects(_DOTTED)


def row_dict(row: GrantRow) -> dict[str, Any]:
    """JSON-ready: datetimes as ISO-8601 UTC, dotted names as fields of an object (null when
    the row has none), everything else as is."""
    out = dict(zip(_plain_names, _plain_values(row), strict=True))
    for name, conv in _json_converted:
        value = out[name]
        if value is not None:
            out[name] = conv(value)
    for obj, fields in _json_objects.items():
        out[obj] = None if getattr(row, obj) is None else _object(row, fields)
    return out


def _object(row: GrantRow, fields: list[Field]) -> dict[str, Any]:
    out = {}
    for name, get, conv in fields:
        value = get(row)
        out[name] = None if value is None else conv(value)
    return out


# A spreadsheet runs a cell starting with one of these as a formula; justification and ticket
# are typed by whoever requested access.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA) else value


def _csv_number(value: float) -> str:
    return str(round(value, 3))


def _csv_bool(value: bool) -> str:
    return "true" if value else "false"


def _csv_list(value: list[str] | tuple[str, ...]) -> str:
    return ";".join(value)


_CSV: dict[str, Callable[[Any], str]] = {
    "string": _csv_text,
    "datetime": iso,
    "number": _csv_number,
    "integer": str,
    "boolean": _csv_bool,
    "array": _csv_list,
}
CsvCell = tuple[Callable[[Any], str], str]  # the converter, and the text of none


def _csv_cell(c: Column) -> CsvCell:
    return _CSV[c.type], "unknown" if c.name.startswith("scim_") else ""


_csv_plain = tuple(_csv_cell(c) for c in _PLAIN)
_csv_dotted = tuple((c.getter, *_csv_cell(c)) for c in _DOTTED)
_csv_no_object = [none for _, _, none in _csv_dotted]  # a row without the dotted columns' object


def csv_cells(row: GrantRow) -> list[str]:
    """CSV cells: empty for none, `unknown` for a missing SCIM lag, lists joined by `;`, text
    that a spreadsheet would run as a formula quoted with a leading `'`."""
    cells = [
        none if v is None else conv(v)
        for (conv, none), v in zip(_csv_plain, _plain_values(row), strict=True)
    ]
    if row.activity is None:
        return cells + _csv_no_object
    for get, conv, none in _csv_dotted:
        v = get(row)
        cells.append(none if v is None else conv(v))
    return cells
