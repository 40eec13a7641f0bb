"""Counts, latency figures and the anomaly list, gathered while the rows stream past, so no
format needs the rows twice."""

from __future__ import annotations

from array import array
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bridge.report.activity import ActivityCollector, anomalies_of
from bridge.report.anomalies import Anomaly, alarming, from_row, sort_anomalies
from bridge.report.query import ReportQuery, iso
from bridge.report.rows import GrantRow
from bridge.report.text import counted

if TYPE_CHECKING:
    from bridge.report.provenance import Provenance

# The HTML timeline draws each mapping's most recent grants; a year of grants is one bar each
# in the CSV, not on a page.
TIMELINE_LIMIT = 60


@dataclass(frozen=True, slots=True)
class Mark:
    """Where an anomaly happened on a grant's lane: `until` makes it a stretch (access that
    outlived its end, to its revocation or to now)."""

    kind: str
    at: datetime
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Span:
    user: str
    target: str
    start: datetime
    end: datetime | None  # revoked, else ended, else now
    anomalous: bool
    marks: tuple[Mark, ...] = ()


def marks_of(row: GrantRow, now: datetime) -> tuple[Mark, ...]:
    """The row's anomalies worse than information, at their time on the timeline."""
    found: list[Mark] = []
    end = row.end_requested_at or row.ended_at
    if "outlived_end" in row.anomalies and end is not None:
        found.append(Mark("outlived_end", end, row.revoked_at or now))
    if "revocation_failed" in row.anomalies and end is not None:
        found.append(Mark("revocation_failed", end))
    first_misuse = row.activity.digest.used_after_end_first if row.activity else None
    if "used_after_end" in row.anomalies and first_misuse is not None:
        found.append(Mark("used_after_end", first_misuse))
    return tuple(found)


def _span(row: GrantRow, now: datetime) -> Span:
    end = row.revoked_at or row.ended_at
    return Span(row.user, row.target, row.activated_at, end, alarming(row), marks_of(row, now))


@dataclass
class Collector:
    query: ReportQuery
    grants: int = 0
    users: set[str] = field(default_factory=set)
    ic_user_ids: set[str] = field(default_factory=set)
    by_mapping: Counter[str] = field(default_factory=Counter)
    states: Counter[str] = field(default_factory=Counter)
    ends: Counter[str] = field(default_factory=Counter)
    revoked: int = 0
    continued: int = 0
    still_held: int = 0
    # Latencies as arrays of doubles, 8 bytes a grant: the percentiles and histograms need them.
    access_s: array[float] = field(default_factory=lambda: array("d"))
    revoke_s: array[float] = field(default_factory=lambda: array("d"))
    scim_s: array[float] = field(default_factory=lambda: array("d"))
    scim_unknown: int = 0
    scim_removal_s: array[float] = field(default_factory=lambda: array("d"))
    scim_removal_unknown: int = 0
    row_anomalies: list[Anomaly] = field(default_factory=list)
    timelines: dict[str, deque[Span]] = field(default_factory=dict)  # set by `finish`
    # Each mapping's latest rows, drawn as spans once they are all in: a span made for each of
    # a year's rows would almost all be dropped again.
    _latest: dict[str, deque[GrantRow]] = field(default_factory=dict)
    activity: ActivityCollector | None = None  # with `report --activity`

    def add(self, row: GrantRow) -> None:
        self.grants += 1
        self.users.add(row.user)
        self.ic_user_ids.add(row.ic_user_id)
        self.by_mapping[row.mapping] += 1
        self.states[row.state] += 1
        if row.end_reason:
            self.ends[row.end_reason] += 1
        self.revoked += row.revoked_at is not None
        self.continued += row.continued_by is not None
        self.still_held += row.still_held
        if row.activation_to_access_s is not None:
            self.access_s.append(row.activation_to_access_s)
        if row.end_to_revoked_s is not None:
            self.revoke_s.append(row.end_to_revoked_s)
        if row.scim_lag_s is None:
            self.scim_unknown += 1
        else:
            self.scim_s.append(row.scim_lag_s)
        if row.ended_at is not None:
            if row.scim_removal_lag_s is None:
                self.scim_removal_unknown += 1
            else:
                self.scim_removal_s.append(row.scim_removal_lag_s)
        if row.anomalies:
            self.row_anomalies += from_row(row, self.query)
            self.row_anomalies += anomalies_of(row)
        if self.activity is not None:
            self.activity.add(row)
        latest = self._latest.get(row.mapping)
        if latest is None:
            latest = self._latest[row.mapping] = deque(maxlen=TIMELINE_LIMIT)
        latest.append(row)

    def _timelines(self) -> dict[str, deque[Span]]:
        return {
            mapping: deque((_span(row, self.query.now) for row in rows), maxlen=TIMELINE_LIMIT)
            for mapping, rows in self._latest.items()
        }

    def finish(self, ledger_anomalies: list[Anomaly]) -> Summary:
        self.timelines = self._timelines()
        anomalies = sort_anomalies([*self.row_anomalies, *ledger_anomalies])
        return Summary(self, anomalies)


@dataclass
class Summary:
    data: Collector
    anomalies: list[Anomaly]
    provenance: Provenance | None = None  # set once every row is written

    def as_dict(self) -> dict[str, Any]:
        d = self.data
        by_kind = Counter(a.kind for a in self.anomalies)
        out: dict[str, Any] = {
            "grants": d.grants,
            "users": len(d.users),
            "by_mapping": dict(sorted(d.by_mapping.items())),
            "live": d.states.get("live", 0),
            "ended": dict(sorted(d.ends.items())),
            "revoked": d.revoked,
            "continued_by_another_grant": d.continued,
            "still_held_after_end": d.still_held,
            "anomalies": {"total": len(self.anomalies), "by_kind": dict(sorted(by_kind.items()))},
            "latency": {
                "activation_to_access_s": stats(d.access_s),
                "end_to_revoked_s": stats(d.revoke_s),
                "scim_lag_s": {**stats(d.scim_s), "unknown": d.scim_unknown},
                "scim_removal_lag_s": {
                    **stats(d.scim_removal_s),
                    "unknown": d.scim_removal_unknown,
                },
            },
        }
        if d.activity is not None:
            out["activity"] = d.activity.as_dict()
        return out

    @property
    def scim_note(self) -> str:
        """`, simulated` for a sandbox's made-up SCIM figures, so none passes for measured."""
        simulated = self.provenance is not None and self.provenance.source.scim_simulated
        return ", simulated" if simulated else ""

    def headline(self) -> list[tuple[str, str]]:
        """The summary as label/value pairs, the same in every human format."""
        s = self.as_dict()
        lat = s["latency"]
        lines = [
            ("window", window_text(self.data.query)),
            ("grants", f"{s['grants']} ({s['live']} live) for {counted(s['users'], 'user')}"),
            ("ended", ", ".join(f"{k} {v}" for k, v in s["ended"].items()) or "none"),
            ("revoked", f"{s['revoked']} ({s['continued_by_another_grant']} kept by another)"),
            ("anomalies", anomaly_text(s["anomalies"])),
            ("activation -> access", stats_text(lat["activation_to_access_s"])),
            ("end -> revoked", stats_text(lat["end_to_revoked_s"])),
            (f"SCIM lag (activation{self.scim_note})", stats_text(lat["scim_lag_s"])),
            (f"SCIM lag (removal{self.scim_note})", stats_text(lat["scim_removal_lag_s"])),
        ]
        if self.data.activity is not None:
            lines.append(("activity", self.data.activity.headline()))
        return lines


def stats(values: Sequence[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "p50": None, "p95": None, "max": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"count": len(ordered), "p50": pick(0.5), "p95": pick(0.95), "max": ordered[-1]}


def stats_text(s: dict[str, Any]) -> str:
    if not s["count"]:
        return "unknown" + (f" ({s['unknown']} without a sample)" if s.get("unknown") else "")
    text = f"p50 {s['p50']:.1f}s, p95 {s['p95']:.1f}s, max {s['max']:.1f}s (n={s['count']})"
    if s.get("unknown"):
        text += f"; unknown for {s['unknown']}"
    return text


def anomaly_text(a: dict[str, Any]) -> str:
    if not a["total"]:
        return "none"
    return f"{a['total']}: " + ", ".join(f"{k} {v}" for k, v in a["by_kind"].items())


def window_text(q: ReportQuery) -> str:
    since = iso(q.since) if q.since else "the start of the ledger"
    until = iso(q.until) if q.until else f"now ({iso(q.now)})"
    return f"{since} to {until}"
