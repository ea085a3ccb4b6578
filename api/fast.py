"""GET /v1/availability/{sku}?location=..., the storefront's hottest read, as raw ASGI.

Storefronts ask for availability 10 to 700 times per order placed. The general operation
path (Starlette Request and Headers objects, the context object, parsed query, a Response
object) costs three times the read itself; this one reads the raw ASGI scope and sends two
messages. It takes only the plain case: an answer from a ready replica, locations (and
optionally channel, consistency=replica) in the query, plain ids, a valid key with the
`availability:read` scope and a token in its rate bucket. Anything else (a group, `after`,
strong reads, bad input, a refused key, an escaped query) is left to the general path,
which answers it from scratch: the same rows, the same problem bodies, the same OpenAPI
operation (`getAvailability`, documented from api/routes_availability.py).
"""

from starlette.types import Scope as AsgiScope
from starlette.types import Send

from api import codec, metrics
from api.auth import Scope
from api.ops import KEY_ID, ROUTE
from api.reads import availability_from_replica
from api.wiring import Services
from atp.limits import BATCH_LOCATIONS_MAX
from atp.model import Channel, LedgerUnavailable
from atp.replica_reads import replica_to_read
from atp.validate import is_plain_id

PREFIX = "/v1/availability/"
TEMPLATE = "/v1/availability/{sku}"
OPERATION = "getAvailability"
_CHANNELS = {b"online": Channel.online, b"store": Channel.store}
_JSON = codec.JSON.encode()


def _query(raw: bytes) -> tuple[list[str], Channel] | None:
    """The locations and channel of a plain query, or None for anything else."""
    if not raw or b"%" in raw or b"+" in raw:
        return None
    locations: list[str] = []
    channel = Channel.online
    for part in raw.split(b"&"):
        name, _, value = part.partition(b"=")
        if name == b"location":
            text = value.decode("latin-1")  # anything not a plain id falls through
            if not is_plain_id(text):
                return None
            locations.append(text)
        elif name == b"channel" and value in _CHANNELS:
            channel = _CHANNELS[value]
        elif not (name == b"consistency" and value == b"replica"):
            return None
    if not locations or len(locations) > BATCH_LOCATIONS_MAX:
        return None
    if len(set(locations)) != len(locations):
        return None
    return locations, channel


async def serve_availability(services: Services, asgi_scope: AsgiScope, send: Send) -> bool:
    """Answers and returns True, or returns False having sent nothing."""
    sku = asgi_scope["path"][len(PREFIX) :]
    if "/" in sku or not is_plain_id(sku):
        return False
    parsed = _query(asgi_scope["query_string"])
    reads = services.replica_reads
    if parsed is None or reads is None:
        return False
    try:
        if replica_to_read(reads.replica, ledger_ready=services.engine.ready, skus=[sku]) is None:
            return False
    except LedgerUnavailable:  # the general path answers the 503
        return False
    authorization = None
    for name, value in asgi_scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
            break
    try:
        principal = await services.auth.authenticate(authorization)
        principal.require(Scope.availability_read)
        # Last: a refusal takes no token, so the general path's own check refuses too.
        services.limiter.check(principal.key_id, principal.rate_per_s)
    except Exception:  # refused (401, 403, 429) or Redis away: the general path says so
        return False
    locations, channel = parsed
    body = codec.encode(await availability_from_replica(reads, sku, locations, None, channel))
    asgi_scope[ROUTE] = TEMPLATE
    asgi_scope[KEY_ID] = principal.key_id  # for the access log
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", _JSON)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    metrics.count_operation(OPERATION, "ok")
    return True
