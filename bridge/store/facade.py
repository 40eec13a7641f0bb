"""The ledger: one object owning the store, delegating each concern to its part. Callers see
one `Ledger`; each part owns its tables' SQL and every write goes through `Database`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from bridge.activity.digest import GrantActivity, ScanTotals
from bridge.activity.intervals import Interval
from bridge.errors import ConfigError
from bridge.model import Binding, Change, Finding, Grant, GrantVerdicts
from bridge.store.activity import Activity, Place
from bridge.store.audit import Audit, LagSample, LagSources
from bridge.store.blocks import BlockedUser, Blocks
from bridge.store.changes import Changes
from bridge.store.cycles import Cycles
from bridge.store.delta_links import DeltaLinks
from bridge.store.engine import AnyRow, Database, snapshot_url
from bridge.store.grants import Grants
from bridge.store.incident_requests import IncidentRequests
from bridge.store.leadership import Leadership
from bridge.store.report_queries import ReportReader
from bridge.store.rows import Holding
from bridge.store.status_queries import StatusReader


class Ledger:
    """What PIM granted, what the bridge holds in Identity Center, and every change it made, in
    SQLite or PostgreSQL (schema migrated on open unless `migrate=False`)."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self._db = Database(url, migrate=migrate)
        self.url = url
        self.engine: Engine = self._db.engine
        self._leadership = Leadership(self._db)
        self._cycles = Cycles(self._db)
        self._grants = Grants(self._db)
        self._changes = Changes(self._db)
        self._audit = Audit(self._db)
        self._activity = Activity(self._db)
        self._blocks = Blocks(self._db)
        self._delta_links = DeltaLinks(self._db)
        # `revoke` / `unblock` handed to the leader: their own small protocol, used whole.
        self.incident_requests = IncidentRequests(self._db)

    @property
    def epoch(self) -> int | None:
        """The epoch this process leads with; None before it took leadership (unfenced)."""
        return self._db.epoch

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        self._db.migrate()

    def at_head(self) -> bool:
        """Whether the schema is this version's (a ledger opened with `migrate=False`)."""
        return self._db.at_head()

    def close(self) -> None:
        self._db.close()

    # -- leadership -----------------------------------------------------------------------

    def take_leadership(self, holder: str, now: datetime) -> int:
        return self._leadership.take_leadership(holder, now)

    def current_leader(self) -> dict[str, Any] | None:
        return self._leadership.current_leader()

    # -- cycles ---------------------------------------------------------------------------

    def start_cycle(self, kind: str, now: datetime) -> int:
        return self._cycles.start_cycle(kind, now)

    def finish_cycle(
        self, cycle_id: int, now: datetime, status: str, summary: dict[str, Any]
    ) -> None:
        self._cycles.finish_cycle(cycle_id, now, status, summary)

    def last_cycle(
        self,
        status: str | None = None,
        kinds: Sequence[str] = (),
        *,
        finished: bool = False,
        read_graph: bool = False,
    ) -> dict[str, Any] | None:
        return self._cycles.last_cycle(status, kinds, finished=finished, read_graph=read_graph)

    # -- grants ---------------------------------------------------------------------------

    def record_verdicts(self, verdicts: GrantVerdicts, now: datetime) -> None:
        self._grants.record_verdicts(verdicts, now)

    def live_grants(self) -> list[Grant]:
        return self._grants.live_grants()

    def live_grants_of(self, instance_ids: Iterable[str]) -> list[Grant]:
        return self._grants.live_grants_of(instance_ids)

    def live_grant_count(self) -> int:
        return self._grants.live_grant_count()

    def last_ends(self, bindings: Iterable[Binding]) -> dict[Binding, datetime | None]:
        return self._grants.last_ends(bindings)

    def live_principals(self) -> dict[tuple[str, str, str], str]:
        return self._grants.live_principals()

    def due_mappings(self, now: datetime) -> set[str]:
        return self._grants.due_mappings(now)

    def next_expiries(self) -> list[datetime]:
        return self._grants.next_expiries()

    def ends_within(self, now: datetime, until: datetime) -> dict[Binding, datetime]:
        return self._grants.ends_within(now, until)

    def revocation_latencies(self, removals: Sequence[Change], now: datetime) -> list[float]:
        return self._grants.revocation_latencies(removals, now)

    def recent_user_names(self, limit: int) -> list[str]:
        return self._grants.recent_user_names(limit)

    def last_end_of(self, user_name: str, mapping: str) -> datetime | None:
        return self._grants.last_end_of(user_name, mapping)

    def record_revoked(
        self, ic_user_id: str, by: str, why: str | None, now: datetime, mapping: str | None = None
    ) -> int:
        return self._grants.record_revoked(ic_user_id, by, why, now, mapping)

    def user_names(self) -> dict[str, str]:
        return self._grants.user_names()

    # -- blocked users (an incident's revoke) ------------------------------------------------

    def block(self, user: BlockedUser) -> BlockedUser:
        return self._blocks.block(user)

    def unblock(self, ic_user_id: str) -> BlockedUser | None:
        return self._blocks.unblock(ic_user_id)

    def blocked(self) -> dict[str, BlockedUser]:
        return self._blocks.blocked()

    # -- holdings and changes -------------------------------------------------------------

    def holdings(self) -> dict[Binding, Holding]:
        return self._changes.holdings()

    def holding(self, binding: Binding) -> Holding | None:
        return self._changes.holding(binding)

    def record_intent(self, cycle_id: int | None, change: Change, now: datetime) -> int:
        return self._changes.record_intent(cycle_id, change, now)

    def record_outcome(
        self,
        change_id: int,
        change: Change,
        now: datetime,
        error: str | None = None,
        *,
        unsettled: bool = False,
    ) -> None:
        self._changes.record_outcome(change_id, change, now, error, unsettled=unsettled)

    def unconfirmed(self) -> list[Binding]:
        return self._changes.unconfirmed()

    def confirm(self, binding: Binding) -> None:
        self._changes.confirm(binding)

    def release(self, binding: Binding) -> None:
        self._changes.release(binding)

    def mark_interrupted(self, now: datetime) -> int:
        return self._changes.mark_interrupted(now)

    def changes_since(self, since: datetime) -> list[dict[str, Any]]:
        return self._changes.changes_since(since)

    # -- audit ----------------------------------------------------------------------------

    def record_findings(
        self, cycle_id: int | None, found: Sequence[Finding], now: datetime
    ) -> None:
        self._audit.record_findings(cycle_id, found, now)

    def finding_details(self, kind: str) -> list[str]:
        return self._audit.finding_details(kind)

    def record_denials(
        self,
        at: datetime,
        permission_set_arn: str,
        users: dict[str, set[str]],
        status: str,
        done_at: datetime | None,
        detail: str | None = None,
    ) -> None:
        self._audit.record_denials(at, permission_set_arn, users, status, done_at, detail)

    def denials_in_force(self, since: datetime) -> dict[str, tuple[set[str], set[str]]]:
        return self._audit.denials_in_force(since)

    def lag_sources(self, since: datetime) -> LagSources:
        return self._audit.lag_sources(since)

    def record_lag_samples(self, samples: Sequence[LagSample], now: datetime) -> None:
        self._audit.record_lag_samples(samples, now)

    def lag_samples(self, since: datetime | None = None) -> list[LagSample]:
        return self._audit.lag_samples(since)

    # -- the membership watcher's delta links ----------------------------------------------

    def delta_links(self) -> dict[str, str]:
        return self._delta_links.delta_links()

    def keep_delta_link(self, key: str, group_ids: Sequence[str], link: str, now: datetime) -> None:
        self._delta_links.keep_delta_link(key, group_ids, link, now)

    def drop_delta_links(self, keys: Iterable[str]) -> None:
        self._delta_links.drop_delta_links(keys)

    # -- evidence of use (bridge/activity/) ------------------------------------------------

    def activity_grants(self, since: datetime, until: datetime) -> list[AnyRow]:
        return self._activity.activity_grants(since, until)

    def claim_activity(
        self, wanted: Mapping[Place, Sequence[Interval]], now: datetime
    ) -> tuple[int, dict[Place, list[Interval]]]:
        return self._activity.claim_activity(wanted, now)

    def finish_activity(
        self, scan_id: int, found: Mapping[int, GrantActivity], totals: ScanTotals, now: datetime
    ) -> None:
        self._activity.finish_activity(scan_id, found, totals, now)

    def fail_activity(self, scan_id: int, detail: str, now: datetime) -> None:
        self._activity.fail_activity(scan_id, detail, now)

    def activity_of(self, grant_ids: Sequence[int]) -> dict[int, GrantActivity]:
        return self._activity.activity_of(grant_ids)

    @contextmanager
    def report_reader(self) -> Iterator[ReportReader]:
        """The report's reads, on one connection for as long as the report is written."""
        with self._db.reading() as conn:
            yield ReportReader(conn)

    @contextmanager
    def status_reader(self) -> Iterator[StatusReader]:
        """The reads of `status`, on one connection."""
        with self._db.reading() as conn:
            yield StatusReader(conn)


def open_for_reading(url: str) -> Ledger:
    """The ledger for a reader that writes nothing (the report): opened as usual when it can
    be, else, for a SQLite file that cannot be written (a read-only file, directory or mount),
    read as a snapshot, provided its schema is this version's."""
    try:
        return Ledger(url)
    except ConfigError:
        snapshot = snapshot_url(url)
        if snapshot is None:
            raise
    ledger = Ledger(snapshot, migrate=False)
    try:
        if not ledger.at_head():
            raise ConfigError(
                "store.url",
                "the ledger cannot be written and its schema is older than this version's: "
                "open it once where it can be written, or report from a writable copy",
            )
    except ConfigError:
        ledger.close()
        raise
    return ledger
