"""Orders that follow an alert. The order service (``POST /v1/orders``, a later issue) calls
``record_order`` for every order it takes; until then nothing does, and the conversion
figure of ``GET /v1/alerts/stats`` stays 0.

An order converts an alert send when it names the send, or comes from the send's contact
for the send's SKU, within ``CONVERSION_WINDOW_S`` (48 h) of the send or its resend. Each
order counts once (its id), for the newest such send."""

from datetime import datetime, timedelta

from alerts import rules
from alerts.limits import CONVERSION_WINDOW_S, ORDER_SKUS_MAX
from atp.model import InvalidInput
from durability.db import Conn

_WITHIN = "s.sent_at <= $2 AND COALESCE(s.resent_at, s.sent_at) >= $3"
_NAMED = f"SELECT s.id FROM alert_sends s WHERE s.id = $1 AND {_WITHIN}"
_BY_CONTACT = f"""
SELECT s.id FROM alert_sends s
WHERE (s.contact_kind, s.contact) IN (SELECT * FROM unnest($1::text[], $4::text[]))
  AND s.sku = ANY($5::text[]) AND {_WITHIN}
ORDER BY COALESCE(s.resent_at, s.sent_at) DESC, s.id LIMIT 1
"""
_RECORD = """
INSERT INTO alert_conversions (order_id, send_id, how, ordered_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (order_id) DO NOTHING
"""
_KNOWN = "SELECT EXISTS (SELECT 1 FROM alert_conversions WHERE order_id = $1)"


def _contacts(email: str | None, phone: str | None) -> list[tuple[str, str]]:
    """The order's contacts, normalised as sign-ups are; one that does not parse matches
    nobody (an order is never refused for it)."""
    found = []
    for kind, text, normalise in (("email", email, rules.email), ("phone", phone, rules.phone)):
        if text:
            try:
                found.append((kind, normalise(text)))
            except InvalidInput:
                continue
    return found


async def record_order(
    conn: Conn,
    order_id: str,
    contact_email: str | None,
    contact_phone: str | None,
    skus: list[str],
    alert_send_id: str | None,
    at: datetime,
) -> bool:
    """Whether the order counts as a conversion of an alert send (recorded once; a retry of
    the same order id answers True again without a second row)."""
    if await conn.fetchval(_KNOWN, order_id):
        return True
    since = at - timedelta(seconds=CONVERSION_WINDOW_S)
    send_id, how = None, "named"
    if alert_send_id:
        send_id = await conn.fetchval(_NAMED, alert_send_id, at, since)
    contacts = _contacts(contact_email, contact_phone)
    if send_id is None and contacts and skus:
        how = "contact"
        kinds, values = [k for k, _ in contacts], [v for _, v in contacts]
        send_id = await conn.fetchval(_BY_CONTACT, kinds, at, since, values, skus[:ORDER_SKUS_MAX])
    if send_id is None:
        return False
    await conn.execute(_RECORD, order_id, send_id, how, at)
    return True
