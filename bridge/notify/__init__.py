"""Notifications (`[notify]`): notices formatted for the receiver (`formats`) and posted from
a queue on a thread of their own (`sender`), so that no cycle ever waits for a webhook."""

from __future__ import annotations

from bridge.config_notify import NotifyConfig
from bridge.health.checks import Check, State
from bridge.notify.formats import FORMATS
from bridge.notify.sender import DeliveryStats, WebhookSender

__all__ = ["FORMATS", "DeliveryStats", "WebhookSender", "webhook_check"]


def webhook_check(config: NotifyConfig, stats: DeliveryStats | None) -> Check:
    """The webhook as a health row: a warning while notices are being given up."""
    name, threshold = "notify.webhook", "delivered"
    if not config.enabled or stats is None:
        return Check(
            name, State.SKIPPED, "not configured", "-", "set PIM_BRIDGE_NOTIFY__WEBHOOK_URL"
        )
    figures: dict[str, float | int | None] = {
        "sent": stats.sent,
        "failed": stats.failed,
        "dropped": stats.dropped,
    }
    if stats.failing is not None:
        detail = f"last notification given up: {stats.failing}"
        return Check(name, State.WARNING, "failing", threshold, detail, figures)
    return Check(name, State.OK, f"{stats.sent} sent", threshold, "", figures)
