"""JSON with a versioned schema (bridge/report/contract.py). Rows are written as they come, one
per line; the anomalies, summary and provenance follow them, so a large report never sits in
memory."""

from __future__ import annotations

import json
from typing import Any, TextIO

from bridge.report.anomalies import Anomaly
from bridge.report.columns import row_dict
from bridge.report.contract import SCHEMA_ID, SCHEMA_VERSION
from bridge.report.provenance import RowDigest
from bridge.report.query import ReportQuery, iso
from bridge.report.rows import GrantRow
from bridge.report.summary import Summary


def anomaly_dict(a: Anomaly) -> dict[str, Any]:
    return {
        "kind": a.kind,
        "severity": a.severity,
        "first_at": iso(a.first_at),
        "last_at": iso(a.last_at),
        "count": a.count,
        "detail": a.detail,
        "user": a.user,
        "mapping": a.mapping,
        "target": a.target,
        "grant_id": a.grant_id,
    }


class JsonRenderer:
    def __init__(self, out: TextIO, query: ReportQuery) -> None:
        self.out = out
        self.digest = RowDigest()
        self.first = True
        head = {
            "schema": SCHEMA_ID,
            "schema_version": SCHEMA_VERSION,
            "generated_at": iso(query.now),
            "filters": query.describe(),
        }
        out.write(json.dumps(head, indent=1)[:-2] + ',\n "rows": [')

    def row(self, row: GrantRow) -> None:
        fields = row_dict(row)
        self.digest.add_dict(fields)
        self.out.write(("\n  " if self.first else ",\n  ") + json.dumps(fields))
        self.first = False

    def finish(self, summary: Summary) -> None:
        self.out.write("\n ],\n" if not self.first else "],\n")
        anomalies = json.dumps([anomaly_dict(a) for a in summary.anomalies], indent=2)
        self.out.write(f' "anomalies": {anomalies},\n')
        self.out.write(f' "summary": {json.dumps(summary.as_dict(), indent=2)},\n')
        block = summary.provenance.as_dict() if summary.provenance else None
        self.out.write(f' "provenance": {json.dumps(block, indent=2)}\n}}\n')
