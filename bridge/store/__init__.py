"""The store: the ledger in SQLite or PostgreSQL. Nothing outside this package runs SQL on it;
expiry revocation reads only the ledger, so it works while Graph is unreachable."""

from bridge.ports import ADDING
from bridge.store.audit import LagKind, LagSample, LagSources
from bridge.store.blocks import BlockedUser, StoredPlacements
from bridge.store.engine import AnyRow, database_name, store_failure
from bridge.store.facade import Ledger, open_for_reading
from bridge.store.incident_requests import QueuedRequest, RequestOutcome
from bridge.store.leadership import AdvisoryLock, Fenced
from bridge.store.report_queries import GrantFilter, ReportReader
from bridge.store.rows import Holding
from bridge.store.status_queries import StatusReader

__all__ = [
    "ADDING",
    "AdvisoryLock",
    "AnyRow",
    "BlockedUser",
    "Fenced",
    "GrantFilter",
    "Holding",
    "LagKind",
    "LagSample",
    "LagSources",
    "Ledger",
    "QueuedRequest",
    "ReportReader",
    "RequestOutcome",
    "StatusReader",
    "StoredPlacements",
    "database_name",
    "open_for_reading",
    "store_failure",
]
