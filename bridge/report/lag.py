"""SCIM lag per grant, from the ledger's `lag_samples` (bridge/lag.py records them): how long
Entra's own SCIM provisioning took, from the PIM change to its export of the same membership
change. A ledger without the table, or a sample still `pending` or `unknown`, reports the lag as
unknown rather than zero."""

from __future__ import annotations

from dataclasses import dataclass, field

from bridge.store import ReportReader

# (mapping, PIM instance id): every target of one grant shares the instance's sample.
Key = tuple[str, str]


@dataclass
class LagIndex:
    activation: dict[Key, float] = field(default_factory=dict)
    removal: dict[Key, float] = field(default_factory=dict)

    def lag_for(self, mapping: str, instance_id: str) -> tuple[float | None, float | None]:
        key = (mapping, instance_id)
        return self.activation.get(key), self.removal.get(key)


def read_lags(reader: ReportReader) -> LagIndex:
    idx = LagIndex()
    for mapping, instance, kind, pim_at, scim_at in reader.scim_lags():
        # Both come back naive from SQLite or aware from PostgreSQL, never mixed within a row.
        seconds = (scim_at - pim_at).total_seconds()
        by_kind = idx.activation if kind == "activation" else idx.removal
        by_kind[(mapping, instance)] = seconds
    return idx
