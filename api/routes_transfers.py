"""Transfers between locations (orders/transfers.py): send, read, list, receive (partly or
at once), cancel. Scope ``stock:write`` for all: a transfer moves stock. A key bound to
stores sends and cancels from its own, receives at its own, and reads transfers that
touch them."""

import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from api import params
from api.auth import Scope
from api.lanes import Lane
from api.ops import Ctx, Op, Param, Reply
from api.problems import ApiError, FieldError, invalid
from api.schemas import ID_PATTERN, Id, Quantity, Request, Response, SkuId
from atp import keys
from atp.validate import check_id
from orders import transfer_store
from orders.transfer_rules import (
    ALL,
    RECEIPT_ID_LENGTH_MAX,
    TRANSFER_ID_LENGTH_MAX,
    TRANSFERS_LISTED_DEFAULT,
    TRANSFERS_LISTED_MAX,
    Spec,
    TransferResult,
    TransferState,
)
from orders.transfer_store import Transfer
from orders.transfers import TransferOutcome, Transfers

WRITE_ERRORS = frozenset({400, 401, 403, 404, 409, 413, 415, 422, 429})
READ_ERRORS = frozenset({401, 403, 404, 422, 429})
TransferId = Annotated[
    str, Meta(min_length=1, max_length=TRANSFER_ID_LENGTH_MAX, pattern=ID_PATTERN)
]
ReceiptId = Annotated[str, Meta(min_length=1, max_length=RECEIPT_ID_LENGTH_MAX, pattern=ID_PATTERN)]


class TransferBody(Request, frozen=True):
    id: TransferId
    sku: SkuId
    # Ids of no kind for the OpenAPI document: its example check knows fields named location.
    from_: Id = msgspec.field(name="from")
    to: Id
    qty: Quantity
    expected_on: Annotated[datetime.date, Meta(description="when it should arrive at `to`")]


class ReceiveBody(Request, frozen=True):
    qty: Quantity | None = None  # None: everything still in transit
    # Makes a retried receipt count once; else the Idempotency-Key does.
    receipt_id: ReceiptId | None = None


class TransferPage(Response, frozen=True):
    items: list[Transfer]
    next_cursor: str | None  # pass as cursor for the next page


def _service(ctx: Ctx) -> Transfers:
    services = ctx.services
    return Transfers(services.pool, services.engine, services.durability)


_STATUS = {
    TransferResult.created: 201,
    TransferResult.exists: 200,
    TransferResult.applied: 200,
    TransferResult.duplicate: 200,
}
# A refusal: status, problem slug, title, and the field it names (if any).
_REFUSALS: dict[TransferResult, tuple[int, str, str, str | None]] = {
    TransferResult.not_found: (404, "transfer-not-found", "No such transfer", None),
    TransferResult.id_conflict: (
        409,
        "transfer-conflict",
        "Transfer id used with another body",
        "id",
    ),
    TransferResult.insufficient: (409, "insufficient", "Insufficient availability", "qty"),
    TransferResult.over_receipt: (409, "over-receipt", "More than is in transit", "qty"),
    TransferResult.receipt_conflict: (
        409,
        "receipt-conflict",
        "Receipt id used with another qty",
        "receipt_id",
    ),
    TransferResult.closed: (409, "transfer-closed", "Transfer received or cancelled", None),
    TransferResult.busy: (409, "transfer-busy", "Another step is under way: retry", None),
    TransferResult.refused: (409, "transfer-refused", "The ledger refused the transfer", None),
}


def _detail(outcome: TransferOutcome, state: str | None) -> str:
    result = outcome.result
    if result is TransferResult.over_receipt:
        return f"only {outcome.units} still in transit"
    if result is TransferResult.receipt_conflict:
        return f"this receipt counted {outcome.units}"
    if result is TransferResult.closed:
        return f"the transfer is {state}"
    return outcome.detail or _REFUSALS[result][2]


def _refusal(outcome: TransferOutcome) -> ApiError:
    status, slug, title, field = _REFUSALS[outcome.result]
    state = None if outcome.transfer is None else outcome.transfer.state.value
    detail = _detail(outcome, state)
    errors = None if field is None else [FieldError(field, detail)]
    headers = {"Retry-After": "1"} if outcome.result is TransferResult.busy else None
    return ApiError(status, slug, title, detail, errors=errors, headers=headers, state=state)


def _reply(ctx: Ctx, outcome: TransferOutcome, sku: str | None = None) -> Reply:
    if outcome.transfer is not None:
        sku = outcome.transfer.sku
    if sku is not None:  # the durability wait: only this SKU's partition was written
        ctx.partitions = [keys.partition_of_sku(sku)]
    status = _STATUS.get(outcome.result)
    if status is None:
        raise _refusal(outcome)
    return status, outcome.transfer


async def create(ctx: Ctx, body: TransferBody) -> Reply:
    spec = Spec(body.id, body.sku, body.from_, body.to, body.qty, body.expected_on)
    return _reply(ctx, await _service(ctx).create(spec, ctx.principal.key_id), body.sku)


async def get(ctx: Ctx, _: None) -> Reply:
    found = await _service(ctx).get(ctx.path("transfer_id"))
    if found is None:
        raise _refusal(TransferOutcome(TransferResult.not_found))
    return 200, found


def _state(raw: str | None) -> TransferState | None:
    try:
        return None if raw is None else TransferState(raw)
    except ValueError:
        raise invalid("state", f"must be among {', '.join(TransferState)}") from None


async def list_(ctx: Ctx, _: None) -> Reply:
    query = ctx.query()
    location = query.get("location")
    if location is not None:
        check_id("location", location)
    limit = params.integer(query, "limit", TRANSFERS_LISTED_DEFAULT, 1, TRANSFERS_LISTED_MAX)
    cursor = query.get("cursor") or "0"
    if not cursor.isdigit() or len(cursor) > 19:
        raise invalid("cursor", "is not a cursor this API returned")
    bound = ctx.principal.locations
    within = None if bound is None else sorted(bound)
    found, after = await transfer_store.page(
        ctx.services.pool, int(cursor), location, within, _state(query.get("state")), limit
    )
    return 200, TransferPage(found, None if after is None else str(after))


async def receive(ctx: Ctx, body: ReceiveBody | None) -> Reply:
    body = body or ReceiveBody()
    receipt_id = body.receipt_id or ctx.op_id() or (ALL if body.qty is None else None)
    if receipt_id is None:
        raise invalid(
            "receipt_id",
            "is required with qty (or an Idempotency-Key): a retried receipt must count once",
        )
    outcome = await _service(ctx).receive(ctx.path("transfer_id"), receipt_id, body.qty)
    return _reply(ctx, outcome)


async def cancel(ctx: Ctx, _: None) -> Reply:
    outcome = await _service(ctx).cancel(ctx.path("transfer_id"))
    return _reply(ctx, outcome)


# Lanes: a key bound to stores sends and cancels from its own, receives at its own and
# reads what touches its own (an unknown id passes: the route answers 404).
async def _ends(ctx: Any) -> tuple[str, str] | None:
    if ctx.principal.locations is None:
        return None
    return await transfer_store.ends(ctx.services.pool, ctx.path("transfer_id"))


async def sender(ctx: Any, body: TransferBody) -> None:
    ctx.principal.confine([body.from_])


def _at(end: int) -> Lane:
    """Confined to one end of the transfer: 0 the sender, 1 the receiver."""

    async def lane(ctx: Any, body: Any) -> None:
        ends = await _ends(ctx)
        if ends is not None:
            ctx.principal.confine([ends[end]])

    return lane


async def either_end(ctx: Any, body: Any) -> None:
    ends = await _ends(ctx)
    if ends is not None and not set(ends) & ctx.principal.locations:
        ctx.principal.confine(ends)


async def listed(ctx: Any, body: Any) -> None:
    """Asked for one location: it must be the key's; else the list keeps to its stores."""
    location = ctx.query().get("location")
    if location is not None:
        ctx.principal.confine([location])


_ID = params.path_id("transfer_id", "the transfer's id")
_STATE: dict[str, Any] = {"type": "string", "enum": [s.value for s in TransferState]}
_LIMIT: dict[str, Any] = {
    "type": "integer",
    "minimum": 1,
    "maximum": TRANSFERS_LISTED_MAX,
    "default": TRANSFERS_LISTED_DEFAULT,
}
_TAG = "transfers"


def _op(method: str, path: str, name: str, summary: str, handler: Any, **kw: Any) -> Op:
    ok = kw.pop("ok", {200: Transfer})
    errors = kw.pop("errors", WRITE_ERRORS)
    return Op(method, path, name, summary, handler, Scope.stock_write, ok, errors, **kw, tag=_TAG)


_ONE = "/v1/transfers/{transfer_id}"
OPS = [
    _op("POST", "/v1/transfers", "createTransfer",
        "Send units to another location: out of the sender now, incoming at the receiver",
        create, ok={201: Transfer, 200: Transfer}, errors=WRITE_ERRORS - {404},
        body=TransferBody, idempotent=True, lane=sender,
        description="201 with the transfer in transit; the same id and body again answers "
        "it (200); the same id with another body is 409 naming `id`. Only units the sender "
        "could still sell leave (never those promised to reservations): else 409 "
        "`insufficient` naming `qty`."),
    _op("GET", "/v1/transfers", "listTransfers", "Transfers, oldest first (cursor pagination)",
        list_, ok={200: TransferPage}, errors=READ_ERRORS - {404}, lane=listed,
        params=(
            Param("location", "query", params.id_schema("location"), "sent from or to here"),
            Param("state", "query", _STATE),
            Param("limit", "query", _LIMIT),
            Param("cursor", "query", {"type": "string"}, "next_cursor of the previous page"),
        )),
    _op("GET", _ONE, "getTransfer", "A transfer and its receipts", get, errors=READ_ERRORS,
        params=(_ID,), lane=either_end),
    _op("POST", _ONE + "/receive", "receiveTransfer",
        "Units arrived at the receiver: some (qty) or all still in transit", receive,
        body=ReceiveBody, body_optional=True, params=(_ID,), idempotent=True, lane=_at(1),
        description="A partial receipt needs a `receipt_id` (or an Idempotency-Key): the same "
        "one again counts once. More than is still in transit is 409 naming `qty`."),
    _op("POST", _ONE + "/cancel", "cancelTransfer",
        "What is still in transit goes back to the sender", cancel,
        errors=WRITE_ERRORS - {400, 413, 415}, params=(_ID,), idempotent=True, lane=_at(0),
        description="Units already received stay at the receiver; a received transfer is 409."),
]  # fmt: skip
