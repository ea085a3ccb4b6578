"""Order-aware support (issue 15): the lookup that answers a customer's question in one
read, and the tickets and replies that measure first-contact resolution.

The lookup takes an order id, an email or a phone (told apart by shape: an ``@`` is an
email, a leading ``+`` or ``00`` a phone, anything else an order id) and answers the
customer (orders/customer_history.py), each of their orders with its state, pickup window,
shipments and returns, the policies that apply (as rendered in force, with versions) and
a reply for the order asked about, or the newest (orders/support_replies.py).

Tickets and replies are orders/support_tickets.py; first-contact resolution over them is
here: resolved order tickets with exactly one agent reply and no customer reply after it,
of all resolved order tickets.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Final

import asyncpg
import msgspec

from alerts import rules as contact
from atp.model import InvalidInput
from durability.db import Conn
from orders import customer_history, policies, returns, store
from orders.customer_history import IdentityView
from orders.model import AT_STORE
from orders.return_rules import Return
from orders.support_replies import PolicyText, SupportReply, is_late, reply
from orders.views import Order

LOOKUP_ORDERS_MAX: Final = 20  # orders one lookup details, newest first
QUERY_LENGTH_MAX: Final = 254


# -- the lookup ------------------------------------------------------------------------


class Query(msgspec.Struct, frozen=True):
    kind: str  # order, email, phone
    value: str  # normalised


def classify(q: str | None) -> Query:
    """What ``q`` is, normalised; ``InvalidInput`` naming ``q`` when it is none of them."""
    raw = (q or "").strip()
    if not raw:
        raise InvalidInput("q", "give an order id, an email or a phone")
    if len(raw) > QUERY_LENGTH_MAX:
        raise InvalidInput("q", f"is longer than {QUERY_LENGTH_MAX} characters")
    try:
        if "@" in raw:
            return Query("email", contact.email(raw))
        if raw.startswith(("+", "00")):
            return Query("phone", contact.phone(raw))
    except InvalidInput as exc:
        raise InvalidInput("q", exc.message) from None
    return Query("order", raw)


class SupportCustomer(msgspec.Struct, frozen=True):
    id: str
    name: str | None
    identities: list[IdentityView]
    merged: list[str]
    possible_duplicates: list[str]


class PickupState(msgspec.Struct, frozen=True):
    state: str
    promise_text: str | None  # the window in the store's words
    promised_at: dt.datetime | None
    ready_at: dt.datetime | None
    picked_up_at: dt.datetime | None
    no_show_at: dt.datetime | None
    late: bool


class SupportReturn(msgspec.Struct, frozen=True):
    id: str
    state: str
    refund: str  # receiving, pending (received, not initiated), initiated
    refund_amount: str | None
    return_received_at: dt.datetime | None
    refund_initiated_at: dt.datetime | None
    policy: str
    policy_version: int


class SupportOrder(msgspec.Struct, frozen=True):
    order: Order
    pickup: PickupState | None  # store orders only
    returns: list[SupportReturn]


class Lookup(msgspec.Struct, frozen=True):
    query: Query
    customer: SupportCustomer | None
    orders: list[SupportOrder]  # newest first; the one asked about first
    orders_cut: bool
    policies: list[PolicyText]
    reply: SupportReply | None  # for the first order


REFUND_STATE: Final = {"pending": "receiving", "received": "pending"}


def _return(r: Return) -> SupportReturn:
    return SupportReturn(
        r.id,
        r.state,
        REFUND_STATE.get(r.state, "initiated"),
        None if r.refund_amount is None else str(r.refund_amount),
        r.return_received_at,
        r.refund_initiated_at,
        r.policy.name,
        r.policy.version,
    )


def _pickup(order: Order, now: dt.datetime) -> PickupState | None:
    if order.method not in AT_STORE:
        return None
    return PickupState(
        order.state.value,
        order.promise_text,
        order.promised_at,
        order.ready_at,
        order.picked_up_at,
        order.no_show_at,
        is_late(order, now),
    )


async def _customers_of(conn: Conn, query: Query) -> list[str]:
    if query.kind == "order":
        rows = await conn.fetch(
            "SELECT DISTINCT coalesce(c.merged_into, c.id) AS root FROM orders o"
            " JOIN customer_identities i ON (i.kind = 'id' AND i.value = o.customer_id)"
            "  OR (i.kind = 'email' AND i.value = o.customer_email)"
            "  OR (i.kind = 'phone' AND i.value = o.customer_phone)"
            " JOIN customers c ON c.id = i.customer_id WHERE o.id = $1 ORDER BY root",
            query.value,
        )
    else:
        rows = await conn.fetch(
            "SELECT DISTINCT coalesce(c.merged_into, c.id) AS root FROM customer_identities i"
            " JOIN customers c ON c.id = i.customer_id WHERE i.kind = $1 AND i.value = $2"
            " ORDER BY root",
            query.kind,
            query.value,
        )
    return [r["root"] for r in rows]


async def _order_ids(conn: Conn, query: Query, history: list[str]) -> tuple[list[str], bool]:
    """The orders to detail, newest first (the asked order first), and whether cut."""
    direct = await conn.fetch(
        "SELECT id FROM orders WHERE ($1 = 'order' AND id = $2)"
        " OR ($1 = 'email' AND customer_email = $2) OR ($1 = 'phone' AND customer_phone = $2)"
        " ORDER BY order_received_at DESC, seq DESC LIMIT $3",
        query.kind,
        query.value,
        LOOKUP_ORDERS_MAX + 1,
    )
    first = [query.value] if query.kind == "order" and direct else []
    ids = list(dict.fromkeys([*first, *history, *(r["id"] for r in direct)]))
    return ids[:LOOKUP_ORDERS_MAX], len(ids) > LOOKUP_ORDERS_MAX


async def _policies(conn: Conn, orders: Sequence[SupportOrder]) -> list[PolicyText]:
    names = []
    if any(o.order.method in AT_STORE for o in orders):
        names.append(policies.PICKUP)
    if any(o.returns for o in orders):
        names += [policies.RETURNS, "refunds"]
    found = []
    for name in names:
        policy = await policies.version(conn, name)
        if policy is not None:  # refunds may have no version yet
            found.append(PolicyText(policy.name, policy.version, policy.rendered()))
    return found


async def _reply_policies(conn: Conn, listed: list[PolicyText]) -> list[PolicyText]:
    """Every policy a reply may quote: those listed, and the others in force."""
    have = {p.name for p in listed}
    extra = []
    for name in (policies.PICKUP, policies.RETURNS, "refunds"):
        if name not in have and (policy := await policies.version(conn, name)) is not None:
            extra.append(PolicyText(policy.name, policy.version, policy.rendered()))
    return [*listed, *extra]


async def lookup(conn: Conn, q: str | None, now: dt.datetime) -> Lookup | None:
    """The support answer for ``q``; None when no order and no customer matches. Read in
    one snapshot so an order moving meanwhile is seen at one instant."""
    query = classify(q)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        roots = await _customers_of(conn, query)
        view = await customer_history.get(conn, roots[0]) if roots else None
        history = [] if view is None else [o.id for o in view.orders]
        ids, cut = await _order_ids(conn, query, history)
        if not ids and view is None:
            return None
        orders = [o for o in [await store.one(conn, i) for i in ids] if o is not None]
        orders.sort(key=lambda o: o.order_received_at, reverse=True)
        if query.kind == "order":
            orders.sort(key=lambda o: o.id != query.value)  # stable: the asked one first
        found: list[Return] = []
        for order in orders:
            found += await _returns_of(conn, order.id)
        detailed = [
            SupportOrder(
                o,
                _pickup(o, now),
                [_return(r) for r in found if r.order_id == o.id],
            )
            for o in orders
        ]
        listed = await _policies(conn, detailed)
        answer = None
        if orders:
            quotable = await _reply_policies(conn, listed)
            answer = reply(orders[0], found, now, quotable)
            if answer.policy is not None and answer.policy not in {p.name for p in listed}:
                listed += [p for p in quotable if p.name == answer.policy]
    customer = None
    if view is not None:
        customer = SupportCustomer(
            view.id, view.name, view.identities, view.merged, view.possible_duplicates
        )
    cut = cut or (view is not None and view.orders_cut)
    return Lookup(query, customer, detailed, cut, listed, answer)


async def _returns_of(conn: Conn, order_id: str) -> list[Return]:
    rows = await conn.fetch("SELECT id FROM returns WHERE order_id = $1 ORDER BY seq", order_id)
    found = [await returns.get(conn, r["id"]) for r in rows]
    return [r for r in found if r is not None]


# -- first-contact resolution -----------------------------------------------------

_FCR = """
SELECT count(*) FILTER (WHERE t.agent_replies = 1 AND NOT EXISTS (
           SELECT 1 FROM support_replies c WHERE c.ticket_id = t.id AND c.author = 'customer'
           AND c.seq > (SELECT min(a.seq) FROM support_replies a
                        WHERE a.ticket_id = t.id AND a.author = 'agent'))) AS single,
       count(*) AS resolved
FROM support_tickets t JOIN orders o ON o.id = t.order_id
WHERE t.resolved_at IS NOT NULL AND t.opened_at >= $1 AND t.opened_at < $2
  AND ($3::text IS NULL OR o.location = $3) AND ($4::text IS NULL OR t.channel = $4)
"""


async def first_contact_resolution(
    conn: Conn | asyncpg.Pool,
    *,
    since: dt.datetime,
    until: dt.datetime,
    location: str | None = None,
    channel: str | None = None,
) -> tuple[int, int]:
    """(resolved order tickets opened in [since, until) with exactly one agent reply and
    no customer reply after it, all resolved order tickets opened then); by the order's
    location and the ticket's channel when given."""
    row = await conn.fetchrow(_FCR, since, until, location, channel)
    assert row is not None
    return int(row["single"]), int(row["resolved"])
