"""The ``alert.triggered`` webhook event's data: who to tell, what is available where, and
the window. The messaging tool (a webhook endpoint subscribed to the type) sends it, and
reports an open with POST /v1/alerts/sends/{send_id}/opened."""

import json
from collections.abc import Sequence
from datetime import datetime

from alerts.rules import LocationStock, Window

EVENT_TYPE = "alert.triggered"


def contact(kind: str, value: str) -> dict[str, object]:
    return {kind: value}


def available(stock: Sequence[LocationStock]) -> list[dict[str, object]]:
    """Each location of the scope with units now, the most first."""
    rows = sorted((s for s in stock if s.available > 0), key=lambda s: (-s.available, s.location))
    return [{"location": s.location, "name": s.name, "atp": s.available} for s in rows]


def window(w: Window) -> dict[str, object]:
    return {
        "kind": w.kind,
        "text": w.text,
        "location": w.location,
        "name": w.name,
        "date": w.day.isoformat(),
    }


def trigger(data: str) -> dict[str, object]:
    """The restock that triggered it, from the change's JSON."""
    try:
        found = json.loads(data)
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {k: found[k] for k in ("event_id", "cause", "at", "atp_after") if k in found}


def event(
    *,
    send_id: str,
    subscription: dict[str, object],
    scope: tuple[str, str, str, str],
    stock: Sequence[LocationStock],
    win: dict[str, object],
    restock: dict[str, object],
    sent_at: datetime,
    resend: bool,
) -> dict[str, object]:
    sku, location, group, channel = scope
    return {
        "send_id": send_id,
        "resend": resend,
        **subscription,  # subscription_id, contact, unsubscribe_token
        "sku": sku,
        "scope": {"location": location} if location else {"group": group},
        "channel": channel,
        "available": available(stock),
        "window": win,
        "trigger": restock,
        "sent_at": sent_at.isoformat().replace("+00:00", "Z"),
    }
