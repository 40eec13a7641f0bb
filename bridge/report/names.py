"""Human names for what the ledger stores as ids. The report works from the ledger alone (mapping
names, target ids); given the config it adds each mapping's Entra group and the names the config
used for Identity Center groups and permission sets, without calling AWS to resolve them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from bridge.config import Config
from bridge.model import AccountAssignment, GroupMembership, target_from_key


@dataclass(frozen=True)
class Target:
    kind: str  # group | assignment
    label: str
    ic_group_id: str | None = None
    account_id: str | None = None
    permission_set_arn: str | None = None
    permission_set: str | None = None  # its name where the config gives it, else the ARN's tail


@dataclass
class Names:
    entra_group_of: dict[str, str] = field(default_factory=dict)  # mapping -> Entra group id
    ic_group_of: dict[str, str] = field(default_factory=dict)  # mapping -> IC group as configured
    # (mapping, account) -> permission set names the config gave for that pair
    permission_sets_of: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    _cache: dict[tuple[str, str], Target] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Config | None) -> Names:
        names = cls()
        if config is None:
            return names
        sets: dict[tuple[str, str], list[str]] = defaultdict(list)
        for m in config.mappings:
            names.entra_group_of[m.name] = m.entra_group_id
            if m.identity_center_group:
                names.ic_group_of[m.name] = m.identity_center_group
            for a in m.assignments:
                sets[(m.name, a.account_id)].append(a.permission_set.rsplit("/", 1)[-1])
        names.permission_sets_of = dict(sets)
        return names

    def configured(self, mapping: str) -> bool:
        """Whether the config names this mapping (given no config: every mapping is)."""
        return not self.entra_group_of or mapping in self.entra_group_of

    def target(self, mapping: str, target_key: str) -> Target:
        key = (mapping, target_key)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._describe(mapping, target_key)
        return hit

    def _describe(self, mapping: str, target_key: str) -> Target:
        t = target_from_key(target_key)
        if isinstance(t, GroupMembership):
            # A mapping names at most one Identity Center group, so its group target is that one.
            label = self.ic_group_of.get(mapping) or f"group {t.group_id}"
            return Target("group", label, ic_group_id=t.group_id)
        assert isinstance(t, AccountAssignment)
        configured = self.permission_sets_of.get((mapping, t.account_id), [])
        tail = t.permission_set_arn.rsplit("/", 1)[-1]
        # Only one permission set configured for this account: the ARN must be that one.
        ps = configured[0] if len(configured) == 1 else tail
        return Target(
            "assignment",
            f"{ps} @ {t.account_id}",
            account_id=t.account_id,
            permission_set_arn=t.permission_set_arn,
            permission_set=ps,
        )
