"""In-memory stand-ins for the ports, for unit tests of the core only, and the virtual clock
and timers every test that moves time runs on. Integration tests use the real adapters over
HTTP against the sandbox servers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bridge.config import config_from_dict
from bridge.errors import SinkError
from bridge.model import Target
from bridge.ports import GroupRead, PimInstance
from bridge.reconcile import Reconciler
from bridge.store import Ledger


class FakePim:
    def __init__(self) -> None:
        self.groups: dict[str, list[PimInstance]] = {}
        self.failing: set[str] = set()

    def activate(
        self,
        group: str,
        upn: str,
        start: datetime,
        end: datetime | None,
        *,
        instance: str | None = None,
        kind: str = "activated",
        access: str = "member",
    ) -> str:
        iid = instance or f"i-{group}-{upn}-{len(self.groups.get(group, []))}"
        self.groups.setdefault(group, []).append(
            PimInstance(
                id=iid,
                group_id=group,
                principal_id=f"p-{upn}",
                principal_type="user",
                access_id=access,
                assignment_type=kind,
                member_type="direct",
                start=start,
                end=end,
                principal={"userPrincipalName": upn},
            )
        )
        return iid

    def deactivate(self, instance: str) -> None:
        for items in self.groups.values():
            items[:] = [i for i in items if i.id != instance]

    def read_groups(
        self, group_ids: Sequence[str], *, deadline: float | None = None
    ) -> dict[str, GroupRead]:
        return {
            g: GroupRead(g, error="HTTP 503")
            if g in self.failing
            else GroupRead(g, tuple(self.groups.get(g, [])))
            for g in group_ids
        }


class FakeIdentityCenter:
    def __init__(self, users: Sequence[str]) -> None:
        self.users = {u: f"u-{u}" for u in users}
        self.state: dict[str, set[str]] = {}
        self.fail_removes = False
        self.writes = 0

    def find_user_id(self, attribute: str, value: str) -> str | None:
        return self.users.get(value)

    def resolve_group(self, name_or_id: str) -> str:
        if name_or_id.startswith("missing"):
            raise SinkError(f"no group named {name_or_id!r}", temporary=False)
        return f"gid-{name_or_id}"

    def resolve_permission_set(self, name_or_arn: str) -> str:
        return f"arn:aws:sso:::permissionSet/ssoins-1/{name_or_arn}"

    def group_owned(self, group_id: str) -> bool:
        return True  # the groups of these tests are the bridge's own

    def holders(self, target: Target) -> set[str]:
        return set(self.state.get(target.key, set()))

    def add(self, user_id: str, target: Target) -> None:
        self.writes += 1
        self.state.setdefault(target.key, set()).add(user_id)

    def remove(self, user_id: str, target: Target) -> None:
        self.writes += 1
        if self.fail_removes:
            raise SinkError("ThrottlingException: Rate exceeded", temporary=True)
        self.state.get(target.key, set()).discard(user_id)


class FakeClock:
    """A clock the tests and the sandbox move by hand."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._elapsed = 0.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._elapsed

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._elapsed += seconds

    def set(self, when: datetime) -> None:
        """Time passes until `when` (or, set earlier, is wound back as if it had not)."""
        self._elapsed += (when - self._now).total_seconds()
        self._now = when

    def jump(self, seconds: float) -> None:
        """The wall clock is set `seconds` ahead (or back): no time passes."""
        self._now += timedelta(seconds=seconds)


class VirtualTimers:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.jobs: dict[str, tuple[datetime, Callable[[], object]]] = {}
        self.fired: list[tuple[str, datetime]] = []  # (job id, clock time when it ran)

    def set(self, job_id: str, when: datetime, fn: Callable[[], object]) -> None:
        self.jobs[job_id] = (when, fn)

    def cancel(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)

    def pending(self) -> dict[str, datetime]:
        return {k: when for k, (when, _) in self.jobs.items()}

    def advance_to(self, until: datetime) -> None:
        """Move the clock to `until`, running every job due on the way at its own time."""
        while True:
            due = [(when, k) for k, (when, _) in self.jobs.items() if when <= until]
            if not due:
                break
            when, job_id = min(due)
            if when > self.clock.now():
                self.clock.set(when)
            _, fn = self.jobs.pop(job_id)
            self.fired.append((job_id, self.clock.now()))
            fn()
        if until > self.clock.now():
            self.clock.set(until)


def make(
    tmp_path: Path, **mapping: object
) -> tuple[FakePim, FakeIdentityCenter, FakeClock, Ledger, Reconciler]:
    """One mapping `admins` (Entra group eg-1 -> Identity Center group AWS-Admin, with the
    given changes), in-memory PIM and Identity Center, a virtual clock, a ledger in `tmp_path`."""
    m = {"name": "admins", "entra_group_id": "eg-1", "identity_center_group": "AWS-Admin"}
    m.update(mapping)
    cfg = config_from_dict(
        {
            "aws": {"identity_store_id": "d-1", "instance_arn": "arn:aws:sso:::instance/ssoins-1"},
            "store": {"url": f"sqlite:///{tmp_path / 'ledger.db'}"},
            "mappings": [m],
        },
        {},
    )
    pim, ic, clock = (
        FakePim(),
        FakeIdentityCenter(["alice@x", "bob@x"]),
        FakeClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC)),
    )
    ledger = Ledger(cfg.store.url)
    return pim, ic, clock, ledger, Reconciler(cfg, pim, ic, ledger, clock)
