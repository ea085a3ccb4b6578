"""Order-aware support (issue 15, orders/support.py): the lookup by order id, email or
phone (the customer, their orders with pickup windows, shipments and returns, the
policies that apply and a reply rendered from them; with ``sku``, ``location`` and ``at``
the availability explanation at that instant, for a disputed promise), and order tickets
with their replies. Scopes ``support:read`` / ``support:write``.

Customer data is never in a storefront or register answer: every route here refuses a key
bound to stores (routes_customers' lane)."""

from typing import Any, Literal

from api import params
from api.auth import Scope
from api.availability_at import Explanation, explanation_of, instant_ms, not_journaled
from api.ops import Ctx, Op, Param, Reply
from api.problems import ApiError, FieldError, invalid
from api.routes_customers import support_only
from api.routes_orders import service
from api.schemas import Id, Request, Response
from atp.validate import check_id
from durability.as_of import NotJournaled, explain_at
from orders import support, support_tickets
from orders.support import Lookup, Query, SupportCustomer, SupportOrder
from orders.support_replies import PolicyText, SupportReply
from orders.support_tickets import (
    Author,
    NewTicket,
    Ticket,
    TicketChannel,
    TicketConflict,
    Topic,
)

READ_ERRORS = frozenset({401, 403, 404, 422, 429})
WRITE_ERRORS = frozenset({400, 401, 403, 404, 409, 413, 415, 422, 429})


class SupportLookup(Response, frozen=True):
    query: Query  # what q was read as: order, email or phone (normalised)
    customer: SupportCustomer | None
    orders: list[SupportOrder]
    orders_cut: bool
    policies: list[PolicyText]
    reply: SupportReply | None
    explanation: Explanation | None = None  # with sku, location and at


class TicketBody(Request, frozen=True):
    id: Id
    topic: Literal[
        "late_pickup", "refund", "back_order", "where_is_my_order", "promise_dispute", "other"
    ]
    channel: Literal["chat", "email", "phone", "store"]
    order_id: Id | None = None
    customer_id: Id | None = None


class ReplyBody(Request, frozen=True):
    author: Literal["agent", "customer"]
    body: str
    resolves: bool = False


async def _explain(ctx: Ctx) -> Explanation | None:
    query = ctx.query()
    sku, location, at = query.get("sku"), query.get("location"), query.get("at")
    if sku is None and location is None and at is None:
        return None
    for name, value in (("sku", sku), ("location", location), ("at", at)):
        if value is None:
            raise invalid(name, "give sku, location and at together (a disputed promise)")
    assert sku is not None and location is not None
    check_id("sku", sku)
    check_id("location", location)
    channel, at_ms = params.channel(query), instant_ms(ctx, query, required=True)
    try:
        derived = await explain_at(ctx.services.pool, sku, location, at_ms)
    except NotJournaled as exc:
        raise not_journaled(exc, at_ms) from None
    return explanation_of(derived, channel, at_ms)


async def lookup(ctx: Ctx, _: None) -> Reply:
    q = ctx.query().get("q")
    explanation = await _explain(ctx)
    async with ctx.services.pool.acquire() as conn:
        found: Lookup | None = await support.lookup(conn, q, service(ctx).now())
    if found is None:
        raise ApiError(404, "nothing-found", "Nothing found", f"no order or customer matches {q!r}")
    fields = {f: getattr(found, f) for f in Lookup.__struct_fields__}
    return 200, SupportLookup(**fields, explanation=explanation)


def _not_found(ticket_id: str) -> ApiError:
    return ApiError(
        404, "ticket-not-found", "No such ticket", f"no support ticket has the id {ticket_id}"
    )


async def open_ticket(ctx: Ctx, body: TicketBody) -> Reply:
    new = NewTicket(
        body.id, Topic(body.topic), TicketChannel(body.channel), body.order_id, body.customer_id
    )
    async with ctx.services.pool.acquire() as conn:
        try:
            ticket, created = await support_tickets.open_ticket(
                conn, new, ctx.principal.key_id, service(ctx).now()
            )
        except TicketConflict:
            raise ApiError(
                409,
                "ticket-conflict",
                "Another ticket has this id",
                f"id: ticket {body.id} was opened with other fields",
                errors=[FieldError("id", "is taken by a ticket with other fields")],
            ) from None
    return (201 if created else 200), ticket


async def add_reply(ctx: Ctx, body: ReplyBody) -> Reply:
    ticket_id = ctx.path("ticket_id")
    async with ctx.services.pool.acquire() as conn:
        ticket = await support_tickets.add_reply(
            conn, ticket_id, Author(body.author), body.body, body.resolves, service(ctx).now()
        )
    if ticket is None:
        raise _not_found(ticket_id)
    return 201, ticket


async def get_ticket(ctx: Ctx, _: None) -> Reply:
    ticket_id = ctx.path("ticket_id")
    ticket = await support_tickets.get_ticket(ctx.services.pool, ticket_id)
    if ticket is None:
        raise _not_found(ticket_id)
    return 200, ticket


_TEXT: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 254}
_TICKET = Param("ticket_id", "path", params.ID_SCHEMA, "the ticket's id", True)

OPS = [
    Op(
        "GET",
        "/v1/support/lookup",
        "supportLookup",
        "One answer for a customer's question: customer, orders, policies and a reply",
        lookup,
        Scope.support_read,
        {200: SupportLookup},
        READ_ERRORS,
        params=(
            Param(
                "q", "query", _TEXT, "an order id, an email or a phone (+<country code>...)", True
            ),
            Param("sku", "query", _TEXT, "a disputed promise: the SKU (with location and at)"),
            Param("location", "query", _TEXT, "a disputed promise: the location"),
            Param(
                "at",
                "query",
                {"type": "string", "format": "date-time"},
                "a disputed promise: the instant (RFC 3339): availability explained then",
            ),
        ),
        tag="support",
        lane=support_only,
    ),
    Op(
        "POST",
        "/v1/support/tickets",
        "openSupportTicket",
        "Record a support ticket (about an order): once by id",
        open_ticket,
        Scope.support_write,
        {201: Ticket, 200: Ticket},
        WRITE_ERRORS,
        body=TicketBody,
        idempotent=True,
        tag="support",
        lane=support_only,
    ),
    Op(
        "POST",
        "/v1/support/tickets/{ticket_id}/replies",
        "replySupportTicket",
        "Record a reply (agent or customer); an agent's `resolves` resolves it, once",
        add_reply,
        Scope.support_write,
        {201: Ticket},
        WRITE_ERRORS,
        body=ReplyBody,
        params=(_TICKET,),
        idempotent=True,
        tag="support",
        lane=support_only,
    ),
    Op(
        "GET",
        "/v1/support/tickets/{ticket_id}",
        "getSupportTicket",
        "A support ticket with its replies",
        get_ticket,
        Scope.support_read,
        {200: Ticket},
        READ_ERRORS,
        params=(_TICKET,),
        tag="support",
        lane=support_only,
    ),
]
