"""Where a report came from, so an auditor can tell what it covers and check it was not edited:
the tenant, the config file (its name and SHA-256), the bridge's version, when it was made, its
filters, and a SHA-256 of its rows.

The rows' digest is over the rows as the JSON format writes them, one canonical line each
(`json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` and a newline,
UTF-8), so it can be recomputed from a JSON report; the CSV format digests its own data lines
(docs/report.md says how to recompute both)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge import __version__
from bridge.config import Config
from bridge.report.columns import row_dict
from bridge.report.query import ReportQuery, iso
from bridge.report.rows import GrantRow

JSON_ROWS = "each row of the JSON rows array as canonical JSON and a newline, UTF-8"
CSV_ROWS = "the CSV's data lines as written (the header line excluded), UTF-8"


@dataclass(frozen=True)
class Source:
    """What the report was made from besides the ledger: the config file, when one was read,
    and, for the sandbox, how its SCIM timing was simulated."""

    tenant: str | None = None
    config_name: str | None = None
    config_sha256: str | None = None
    scim_simulated: str | None = None  # how the sandbox's SCIM figures were made up

    @classmethod
    def of(
        cls, config: Config | None, path: Path | None = None, scim_simulated: str | None = None
    ) -> Source:
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path and path.is_file() else None
        return cls(
            tenant=(config.entra.tenant_id or None) if config else None,
            config_name=path.name if path and digest else None,
            config_sha256=digest,
            scim_simulated=scim_simulated,
        )


class RowDigest:
    """SHA-256 over the rows in the order they are written."""

    def __init__(self, covers: str = JSON_ROWS) -> None:
        self.covers = covers
        self._hash = hashlib.sha256()

    def add_row(self, row: GrantRow) -> None:
        self.add_dict(row_dict(row))

    def add_dict(self, fields: dict[str, Any]) -> None:
        """A row already made JSON-ready (`row_dict`), as the JSON format writes it."""
        self.add_text(canonical(fields) + "\n")

    def add_text(self, text: str) -> None:
        self._hash.update(text.encode("utf-8"))

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


# Made once: `json.dumps` with options makes an encoder at every call, a call for every row.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(fields: dict[str, Any]) -> str:
    return _CANONICAL.encode(fields)


@dataclass(frozen=True)
class Provenance:
    source: Source
    generated_at: str
    filters: dict[str, Any]
    rows: int
    rows_sha256: str
    rows_sha256_covers: str = JSON_ROWS
    version: str = __version__

    @classmethod
    def of(cls, source: Source, query: ReportQuery, rows: int, digest: RowDigest) -> Provenance:
        return cls(
            source, iso(query.now), query.describe(), rows, digest.hexdigest(), digest.covers
        )

    def as_dict(self) -> dict[str, Any]:
        s = self.source
        return {
            "tenant": s.tenant,
            "config_file": s.config_name,
            "config_sha256": s.config_sha256,
            "bridge_version": self.version,
            "generated_at": self.generated_at,
            "filters": self.filters,
            "rows": self.rows,
            "rows_sha256": self.rows_sha256,
            "rows_sha256_covers": self.rows_sha256_covers,
            "scim_simulated": s.scim_simulated,
        }

    def lines(self) -> list[tuple[str, str]]:
        """Label/value pairs, the same in every human format."""
        s = self.source
        shown = [
            ("tenant", s.tenant or "unknown (no config)"),
            ("config", f"{s.config_name} (sha256 {s.config_sha256})" if s.config_name else "none"),
            ("bridge version", self.version),
            ("generated", self.generated_at),
            ("filters", filters_text(self.filters)),
            ("rows sha256", f"{self.rows_sha256} ({self.rows} rows; {self.rows_sha256_covers})"),
        ]
        if s.scim_simulated:
            shown.append(("SCIM figures", s.scim_simulated))
        return shown


def filters_text(filters: dict[str, Any]) -> str:
    given = [f"{k}={_value(v)}" for k, v in filters.items() if v not in (None, [], ())]
    return ", ".join(given) or "none"


def _value(v: Any) -> str:
    return (
        ",".join(map(str, v))
        if isinstance(v, list)
        else f"{v:g}"
        if isinstance(v, float)
        else str(v)
    )
