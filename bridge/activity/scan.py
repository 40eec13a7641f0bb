"""One reading of the trail, end to end: claim the files the selected grants need, read each
once, match every record to the grant whose session made it, and add the digests to the ledger.

Every record of a file read is matched against every grant of the ledger, not only the
selected ones, so a file is never read again for another grant. A corrupt or truncated file is
skipped whole (none of its records counted), named and counted; a bucket that cannot be read
stops the reading, and nothing of it is kept."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bridge.activity.callers import Call, call_of
from bridge.activity.digest import Digest, GrantActivity, ScanTotals
from bridge.activity.intervals import Interval
from bridge.activity.matching import Attribution, GrantIndex, GrantWindow
from bridge.activity.objects import Fetched, LogFile, TrailObjects
from bridge.activity.plan import Place, ReadPlan
from bridge.activity.records import CorruptObject, records_of
from bridge.activity.targets import LedgerGrant, Targets, target_label


class ActivityLedger(Protocol):
    """The store's part in a reading (`bridge.store.Ledger` offers it)."""

    def activity_grants(self, since: datetime, until: datetime) -> Sequence[Any]: ...

    def claim_activity(
        self, wanted: Mapping[Place, Sequence[Interval]], now: datetime
    ) -> tuple[int, dict[Place, list[Interval]]]: ...

    def finish_activity(
        self, scan_id: int, found: Mapping[int, GrantActivity], totals: ScanTotals, now: datetime
    ) -> None: ...

    def fail_activity(self, scan_id: int, detail: str, now: datetime) -> None: ...

    def activity_of(self, grant_ids: Sequence[int]) -> dict[int, GrantActivity]: ...


@dataclass
class ScanResult:
    scan_id: int | None
    grants: int  # grants selected and not yet complete
    totals: ScanTotals = field(default_factory=ScanTotals)

    def line(self) -> str:
        t = self.totals
        text = (
            f"activity: {self.grants} grants, {t.objects} log files read, {t.records} records "
            f"({t.attributed} attributed, {t.unattributed} unattributed, {t.other} other)"
        )
        if t.skipped:
            names = ", ".join(f"{key} ({why})" for key, why in t.skipped[:3])
            more = f" and {len(t.skipped) - 3} more" if len(t.skipped) > 3 else ""
            text += f"; {len(t.skipped)} skipped: {names}{more}"
        return text


class ActivityScan:
    def __init__(
        self,
        ledger: ActivityLedger,
        objects: TrailObjects,
        targets: Targets,
        plan: ReadPlan,
        regions: Sequence[str] = (),
    ) -> None:
        self._ledger = ledger
        self._objects = objects
        self._targets = targets
        self._plan = plan
        self._regions = list(regions)
        self._found_regions: dict[str, list[str]] = {}

    def run(self, grants: Iterable[LedgerGrant], now: datetime) -> ScanResult:
        """Digest the grants' activity not yet read; grants already complete are left alone."""
        self._objects.check()
        chosen = list(grants)
        kept = self._ledger.activity_of([g.grant_id for g in chosen])
        chosen = [g for g in chosen if not (g.grant_id in kept and kept[g.grant_id].complete)]
        windows = {g.grant_id: self._targets.windows(g) for g in chosen}
        wanted = self._plan.wanted((w for ws in windows.values() for w in ws), self._regions_of)
        scan_id, todo = self._ledger.claim_activity(wanted, now)
        result = ScanResult(scan_id, len(chosen))
        try:
            digests = self._read(todo, result.totals)
        except BaseException as exc:
            self._ledger.fail_activity(scan_id, str(exc) or type(exc).__name__, now)
            raise
        found = {
            gid: GrantActivity(
                digests.pop(gid, Digest()),
                tuple(sorted({target_label(w) for w in ws})),
                all(self._plan.complete(w) for w in ws),
                now,
            )
            for gid, ws in windows.items()
        }
        # Grants not chosen whose calls were in the files read: their digests grow too.
        for gid, digest in digests.items():
            found[gid] = GrantActivity(digest, (), False, now)
        self._ledger.finish_activity(scan_id, found, result.totals, now)
        return result

    def _regions_of(self, account: str) -> list[str]:
        if self._regions:
            return self._regions
        if account not in self._found_regions:
            self._found_regions[account] = self._objects.regions(account)
        return self._found_regions[account]

    def _read(self, todo: dict[Place, list[Interval]], totals: ScanTotals) -> dict[int, Digest]:
        span = self._plan.matching_span(todo)
        if span is None:
            return {}
        index = GrantIndex(self._all_windows(*span), self._plan.after_end)
        digests: dict[int, Digest] = {}
        for fetched in self._objects.fetch_all(self._files(todo, totals)):
            self._digest(fetched, index, digests, totals)
        return digests

    def _all_windows(self, since: datetime, until: datetime) -> Iterator[GrantWindow]:
        for row in self._ledger.activity_grants(since, until):
            yield from self._targets.windows(LedgerGrant.of(row))

    def _files(self, todo: dict[Place, list[Interval]], totals: ScanTotals) -> Iterator[LogFile]:
        for (account, region), spans in sorted(todo.items()):
            for start, end in spans:
                for f in self._objects.files(account, region, start, end):
                    if isinstance(f, str):
                        totals.skipped.append((f, "not a CloudTrail log file name"))
                    else:
                        yield f

    @staticmethod
    def _digest(
        fetched: Fetched, index: GrantIndex, digests: dict[int, Digest], totals: ScanTotals
    ) -> None:
        key = fetched.file.key
        if fetched.body is None:
            totals.skipped.append((key, fetched.error or "not readable"))
            return
        # A file's records count only once all of it has been read.
        matched: list[tuple[Call, Attribution]] = []
        part = ScanTotals(objects=1)
        try:
            for record in records_of(fetched.body):
                part.records += 1
                call = call_of(record)
                how = index.attribute(call) if call is not None else None
                if how is not None and call is not None:
                    part.attributed += 1
                    matched.append((call, how))
                elif call is not None and call.from_identity_center:
                    part.unattributed += 1
                else:
                    part.other += 1
        except CorruptObject as exc:
            totals.skipped.append((key, str(exc)))
            return
        totals.add(part)
        for call, how in matched:
            for gid in how.grant_ids:
                digest = digests.get(gid)
                if digest is None:
                    digest = digests[gid] = Digest()
                digest.add(call, how)
