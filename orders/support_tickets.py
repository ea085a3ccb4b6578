"""Support tickets about orders and their replies (migrations/0015_support.sql), so
first-contact resolution can be measured (orders/support.py ``first_contact_resolution``).

A ticket is recorded once by id: the same id with the same fields answers the ticket as it
is, with others is ``TicketConflict``. Replies are numbered per ticket. ``resolves`` (an
agent's reply only) sets ``resolved_at`` once; a customer replying after that is recorded
and counted but does not reopen the ticket: it simply is not a first-contact resolution
any more (the KPI looks for a customer reply after the agent's first).
"""

import datetime as dt
import enum
from typing import Final

import asyncpg
import msgspec

from atp.model import InvalidInput
from durability.db import Conn

REPLY_BODY_MAX: Final = 4000  # characters of one reply
REPLIES_MAX: Final = 500  # replies of one ticket


class Topic(enum.StrEnum):
    late_pickup = "late_pickup"
    refund = "refund"
    back_order = "back_order"
    where_is_my_order = "where_is_my_order"
    promise_dispute = "promise_dispute"
    other = "other"


class TicketChannel(enum.StrEnum):
    chat = "chat"
    email = "email"
    phone = "phone"
    store = "store"


class Author(enum.StrEnum):
    agent = "agent"
    customer = "customer"


class NewTicket(msgspec.Struct, frozen=True):
    id: str
    topic: Topic
    channel: TicketChannel
    order_id: str | None = None
    customer_id: str | None = None


class TicketReply(msgspec.Struct, frozen=True):
    seq: int
    author: str
    body: str
    resolves: bool
    at: dt.datetime


class Ticket(msgspec.Struct, frozen=True):
    id: str
    order_id: str | None
    customer_id: str | None
    topic: str
    channel: str
    opened_at: dt.datetime
    resolved_at: dt.datetime | None
    agent_replies: int
    customer_replies: int
    created_by: str
    replies: list[TicketReply]


class TicketConflict(Exception):
    """The ticket id is taken by a ticket with other fields."""


_TICKET = """SELECT id, order_id, customer_id, topic, channel, opened_at, resolved_at,
agent_replies, customer_replies, created_by FROM support_tickets WHERE id = $1"""


async def get_ticket(conn: Conn | asyncpg.Pool, ticket_id: str) -> Ticket | None:
    row = await conn.fetchrow(_TICKET, ticket_id)
    if row is None:
        return None
    replies = await conn.fetch(
        "SELECT seq, author, body, resolves, at FROM support_replies WHERE ticket_id = $1"
        " ORDER BY seq",
        ticket_id,
    )
    return Ticket(
        **dict(row.items()),
        replies=[TicketReply(**dict(r.items())) for r in replies],
    )


def _same(found: Ticket, new: NewTicket, customer: str | None) -> bool:
    return (found.order_id, found.customer_id, found.topic, found.channel) == (
        new.order_id,
        customer,
        new.topic.value,
        new.channel.value,
    )


async def open_ticket(
    conn: Conn, new: NewTicket, actor: str, now: dt.datetime
) -> tuple[Ticket, bool]:
    """(the ticket, created now). ``InvalidInput`` naming ``order_id`` / ``customer_id``
    when unknown; ``TicketConflict`` when the id holds another ticket."""
    async with conn.transaction():
        if new.order_id is not None:
            exists = await conn.fetchval("SELECT 1 FROM orders WHERE id = $1", new.order_id)
            if exists is None:
                raise InvalidInput("order_id", f"no order has the id {new.order_id}")
        customer = new.customer_id
        if customer is not None:
            customer = await conn.fetchval(
                "SELECT coalesce(merged_into, id) FROM customers WHERE id = $1", customer
            )
            if customer is None:
                raise InvalidInput("customer_id", f"no customer has the id {new.customer_id}")
        inserted = await conn.fetchval(
            "INSERT INTO support_tickets (id, order_id, customer_id, topic, channel, opened_at,"
            " created_by) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING"
            " RETURNING id",
            new.id,
            new.order_id,
            customer,
            new.topic.value,
            new.channel.value,
            now,
            actor,
        )
        found = await get_ticket(conn, new.id)
    assert found is not None
    if inserted is None and not _same(found, new, customer):
        raise TicketConflict(new.id)
    return found, inserted is not None


async def add_reply(
    conn: Conn, ticket_id: str, author: Author, body: str, resolves: bool, now: dt.datetime
) -> Ticket | None:
    """The ticket with the reply added; None when no ticket has the id."""
    if not body.strip():
        raise InvalidInput("body", "must not be blank")
    if len(body) > REPLY_BODY_MAX:
        raise InvalidInput("body", f"is longer than {REPLY_BODY_MAX} characters")
    if resolves and author is not Author.agent:
        raise InvalidInput("resolves", "only an agent's reply resolves a ticket")
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT agent_replies + customer_replies AS n FROM support_tickets WHERE id = $1"
            " FOR UPDATE",
            ticket_id,
        )
        if row is None:
            return None
        if row["n"] >= REPLIES_MAX:
            raise InvalidInput("body", f"a ticket holds at most {REPLIES_MAX} replies")
        await conn.execute(
            "INSERT INTO support_replies (ticket_id, seq, author, body, resolves, at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            ticket_id,
            row["n"] + 1,
            author.value,
            body,
            resolves,
            now,
        )
        await conn.execute(
            "UPDATE support_tickets SET agent_replies = agent_replies + ($2 = 'agent')::int,"
            " customer_replies = customer_replies + ($2 = 'customer')::int,"
            " resolved_at = CASE WHEN $3 THEN coalesce(resolved_at, $4) ELSE resolved_at END"
            " WHERE id = $1",
            ticket_id,
            author.value,
            resolves,
            now,
        )
        return await get_ticket(conn, ticket_id)
