"""Which Identity Center groups are the bridge's own: only in those may it remove members it
did not add (a mapping's `drift = "remove"`).

Identity Store groups have a display name and a description but no tags, so the mark is in the
description: a group is bridge-owned when its description contains "Managed by pim-bridge"
(any case). Anyone who can edit the group can set or clear the mark; the rule keeps a mapping
written against a shared group from emptying it, not a group's administrator from handing it
over.
"""

from __future__ import annotations

OWNED_MARK = "Managed by pim-bridge"


def bridge_owned(description: str | None) -> bool:
    return OWNED_MARK.lower() in (description or "").lower()


def not_owned_reason() -> str:
    return f'the group is not bridge-owned (its description lacks "{OWNED_MARK}")'
