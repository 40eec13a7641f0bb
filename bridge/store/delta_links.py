"""Delta links: where each of the membership watcher's delta queries starts its next round."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select, update

from bridge.schema import delta_links

if TYPE_CHECKING:
    from bridge.store.engine import Database


class DeltaLinks:
    def __init__(self, db: Database) -> None:
        self._db = db

    def delta_links(self) -> dict[str, str]:
        with self._db.reading() as conn:
            rows = conn.execute(select(delta_links.c.key, delta_links.c.link)).all()
        return {r.key: r.link for r in rows}

    def keep_delta_link(self, key: str, group_ids: Sequence[str], link: str, now: datetime) -> None:
        values = {"group_ids": list(group_ids), "link": link, "saved_at": now}
        # Fenced: a deposed leader's link could start the next round past what it never applied.
        with self._db.fenced() as conn:
            changed = conn.execute(
                update(delta_links).where(delta_links.c.key == key).values(**values)
            ).rowcount
            if not changed:
                conn.execute(insert(delta_links).values(key=key, **values))

    def drop_delta_links(self, keys: Iterable[str]) -> None:
        wanted = list(keys)
        if not wanted:
            return
        with self._db.fenced() as conn:
            conn.execute(delete(delta_links).where(delta_links.c.key.in_(wanted)))
