"""A notice as the receiver wants it: the bridge's own JSON (docs/notifications.md), a Slack
incoming webhook message (`text` plus `blocks` of mrkdwn sections), or a Teams incoming webhook
message carrying an Adaptive Card."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge.ports import Notice
from bridge.redact import redact

TITLES = {
    "granted": "Access granted",
    "revoked": "Access revoked",
    "blocked": "User blocked",
    "outlived_end": "Access outlived its end",
    "safety_brake": "Safety brake holding removals",
    "unreadable_group": "Entra group unreadable",
    "denial_overflow": "Session denial not written",
    "drift": "Access with no PIM basis",
}
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


def as_json(n: Notice) -> dict[str, Any]:
    return {
        "source": "pim-bridge",
        "event": n.event,
        "at": _iso(n),
        "user": n.user,
        "mapping": n.mapping,
        "target": n.target,
        "detail": redact(n.detail),
    }


def as_slack(n: Notice) -> dict[str, Any]:
    title = TITLES.get(n.event, n.event)
    facts = _facts(n)
    blocks: list[dict[str, Any]] = [
        _mrkdwn(f"*{_slack(title)}*\n{_slack(redact(n.detail))}"),
    ]
    if facts:
        blocks.append(_mrkdwn("\n".join(f"*{k}:* {_slack(v)}" for k, v in facts)))
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"pim-bridge · {_iso(n)}"}]}
    )
    return {"text": _slack(_summary(n, title)), "blocks": blocks}


def as_teams(n: Notice) -> dict[str, Any]:
    title = TITLES.get(n.event, n.event)
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "TextBlock", "text": redact(n.detail), "wrap": True},
        {
            "type": "FactSet",
            "facts": [{"title": k, "value": v} for k, v in (*_facts(n), ("At", _iso(n)))],
        },
    ]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}],
    }


FORMATS: dict[str, Callable[[Notice], dict[str, Any]]] = {
    "json": as_json,
    "slack": as_slack,
    "teams": as_teams,
}


def _facts(n: Notice) -> list[tuple[str, str]]:
    pairs = (("User", n.user), ("Mapping", n.mapping), ("Access", n.target))
    return [(k, v) for k, v in pairs if v]


def _summary(n: Notice, title: str) -> str:
    who = f" {n.user}" if n.user else ""
    what = f" → {n.target}" if n.target else ""
    return f"{title}:{who}{what}" if who or what else f"{title}: {redact(n.detail)}"


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _slack(text: str) -> str:
    """Slack's three control characters escaped, so names are shown, never linked or pinged."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _iso(n: Notice) -> str:
    return n.at.strftime("%Y-%m-%dT%H:%M:%SZ")
