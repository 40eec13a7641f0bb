"""SCIM lag per grant, from the ledger's `lag_samples` (bridge/lag.py records them): how long
Entra's own SCIM provisioning took, from the PIM change to its export of the same membership
change. A ledger without the table, or a sample still `pending` or `unknown`, reports the lag as
unknown rather than zero."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, inspect, select

from bridge.schema import lag_samples

# (mapping, PIM instance id): every target of one grant shares the instance's sample.
Key = tuple[str, str]


@dataclass
class LagIndex:
    activation: dict[Key, float] = field(default_factory=dict)
    removal: dict[Key, float] = field(default_factory=dict)

    def lag_for(self, mapping: str, instance_id: str) -> tuple[float | None, float | None]:
        key = (mapping, instance_id)
        return self.activation.get(key), self.removal.get(key)


def read_lags(conn: Connection) -> LagIndex:
    idx = LagIndex()
    if not inspect(conn).has_table(lag_samples.name):
        return idx
    q = select(
        lag_samples.c.mapping,
        lag_samples.c.source_instance_id,
        lag_samples.c.kind,
        lag_samples.c.pim_at,
        lag_samples.c.scim_at,
    ).where(lag_samples.c.scim_at.is_not(None))
    for mapping, instance, kind, pim_at, scim_at in conn.execute(q):
        # Both come back naive from SQLite or aware from PostgreSQL, never mixed within a row.
        seconds = (scim_at - pim_at).total_seconds()
        by_kind = idx.activation if kind == "activation" else idx.removal
        by_kind[(mapping, instance)] = seconds
    return idx
