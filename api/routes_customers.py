"""Customers joined across channels (issue 15, orders/customers.py): one customer's
identities with its orders and returns from every channel, a lookup by email or phone,
and the explicit merge of two records. Scopes ``support:read`` / ``support:write``.

Customer data is never in a storefront or register answer: a key bound to stores is
refused by this module's lane, whatever its scopes."""

from typing import Any

from api import params
from api.auth import Scope, forbidden
from api.ops import Ctx, Op, Param, Reply
from api.problems import ApiError
from api.schemas import Id, Request, Response
from orders import customer_history, customers
from orders.customer_history import CustomerView

READ_ERRORS = frozenset({401, 403, 404, 422, 429})
WRITE_ERRORS = frozenset({400, 401, 403, 404, 413, 415, 422, 429})


class CustomerRecord(CustomerView, Response, frozen=True):
    pass


class CustomerMatches(Response, frozen=True):
    items: list[str]  # the customers (survivors) holding the email or phone


class MergeBody(Request, frozen=True):
    other: Id  # merged into the path's customer


async def support_only(ctx: Ctx, body: Any) -> None:
    """Customer data never goes to a register or a store: a key bound to stores may not
    read or merge customers."""
    if ctx.principal.locations is not None:
        raise forbidden(
            "location-not-allowed",
            "customer data is never in a store's answer: this key is bound to stores",
        )


def _not_found(customer_id: str) -> ApiError:
    return ApiError(
        404, "customer-not-found", "No such customer", f"no customer has the id {customer_id}"
    )


def _answer(found: CustomerView) -> CustomerRecord:
    fields = {name: getattr(found, name) for name in CustomerView.__struct_fields__}
    return CustomerRecord(**fields)


async def get(ctx: Ctx, _: None) -> Reply:
    customer_id = ctx.path("customer_id")
    async with ctx.services.pool.acquire() as conn:
        found = await customer_history.get(conn, customer_id)
    if found is None:
        raise _not_found(customer_id)
    return 200, _answer(found)


async def lookup(ctx: Ctx, _: None) -> Reply:
    query = ctx.query()
    async with ctx.services.pool.acquire() as conn:
        found = await customers.lookup(conn, query.get("email"), query.get("phone"))
    return 200, CustomerMatches(found)


async def merge(ctx: Ctx, body: MergeBody) -> Reply:
    survivor = ctx.path("customer_id")
    async with ctx.services.pool.acquire() as conn:
        merged = await customers.merge(conn, survivor, body.other, ctx.principal.key_id)
        if merged is None:
            missing = survivor if await customers.root_of(conn, survivor) is None else body.other
            raise _not_found(missing)
        found = await customer_history.get(conn, survivor)
    assert found is not None
    return 200, _answer(found)


_ID = Param(
    "customer_id", "path", params.ID_SCHEMA, "the customer's id (cus_...; a merged id too)", True
)
_TEXT: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 254}

OPS = [
    Op(
        "GET",
        "/v1/customers",
        "lookupCustomers",
        "The customers holding an email or phone (normalised as orders store them)",
        lookup,
        Scope.support_read,
        {200: CustomerMatches},
        frozenset({401, 403, 422, 429}),
        params=(
            Param("email", "query", _TEXT, "an email address"),
            Param("phone", "query", _TEXT, "an international number: +<country code><number>"),
        ),
        tag="customers",
        lane=support_only,
    ),
    Op(
        "GET",
        "/v1/customers/{customer_id}",
        "getCustomer",
        "A customer: identities, and orders and returns from every channel, newest first",
        get,
        Scope.support_read,
        {200: CustomerRecord},
        READ_ERRORS,
        params=(_ID,),
        tag="customers",
        lane=support_only,
    ),
    Op(
        "POST",
        "/v1/customers/{customer_id}/merge",
        "mergeCustomer",
        "Merge another customer into this one: its identities move, its id answers this one",
        merge,
        Scope.support_write,
        {200: CustomerRecord},
        WRITE_ERRORS,
        body=MergeBody,
        params=(_ID,),
        idempotent=True,
        tag="customers",
        lane=support_only,
    ),
]
