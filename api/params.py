"""Query and path parameters: parsed by hand (the routes bypass FastAPI's parameter
machinery), each failure naming its parameter. Their OpenAPI descriptions sit here too."""

from typing import Any

from api.ops import Param
from api.problems import invalid
from api.query import Query
from api.schemas import EVENT_ID_PATTERN, ID_PATTERN, Consistency
from atp.limits import ID_LENGTH_MAX
from atp.model import Channel

ID_SCHEMA: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": ID_LENGTH_MAX,
    "pattern": ID_PATTERN,
}
# Each kind of id shows its own example (the demo chain's ids, as api/schemas.py's aliases).
EXAMPLES: dict[str, str] = {
    "sku": "SKU-000001",
    "location": "ST-001",
    "group": "oslo-stores",
    "id": "order-1001",  # a reservation
    "device_id": "till-1",
    "supply_id": "PO-77",
    "key_id": "3f9a1c2b7d4e",
    "customer": "cust-1001",
    "order_id": "web-1001",
}


def id_schema(name: str) -> dict[str, Any]:
    """The id rule, with the example of the kind of id ``name`` is (none if unknown)."""
    example = EXAMPLES.get(name)
    return ID_SCHEMA if example is None else {**ID_SCHEMA, "examples": [example]}


CHANNEL = Param(
    "channel",
    "query",
    {"type": "string", "enum": [c.value for c in Channel], "default": "online"},
    "online: never promises safety stock; store: the counter may sell it",
)
LOCATIONS = Param(
    "location", "query", id_schema("location"), "a location; repeat for several", repeated=True
)
GROUP = Param("group", "query", id_schema("group"), "a location group (instead of location)")
CONSISTENCY = Param(
    "consistency",
    "query",
    {"type": "string", "enum": ["replica", "strong"], "default": "replica"},
    "replica: from the process's in-memory copy (see as_of, lag_ms); strong: from Redis",
)
AFTER = Param(
    "after",
    "query",
    {"type": "string", "pattern": EVENT_ID_PATTERN},
    "a write's event_id this answer must include (waits briefly, else reads Redis)",
)


def path_id(name: str, description: str = "") -> Param:
    return Param(name, "path", id_schema(name), description, required=True)


def channel(query: Query) -> Channel:
    value = query.get("channel", Channel.online.value)
    try:
        return Channel(value or "")
    except ValueError:
        raise invalid("channel", "must be online or store") from None


def integer(query: Query, name: str, default: int | None, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None:
        if default is None:
            raise invalid(name, "is required")
        return default
    if not raw.isascii() or not raw.lstrip("-").isdigit() or len(raw) > 20:
        raise invalid(name, "must be an integer")
    value = int(raw)
    if not low <= value <= high:
        raise invalid(name, f"must be between {low} and {high}")
    return value


def consistency(query: Query) -> Consistency:
    value = query.get("consistency", "replica")
    if value == "replica":
        return "replica"
    if value == "strong":
        return "strong"
    raise invalid("consistency", "must be replica or strong")


def number(query: Query, name: str, low: float, high: float, default: float | None = None) -> float:
    raw = query.get(name)
    if raw is None:
        if default is None:
            raise invalid(name, "is required")
        return default
    try:
        value = float(raw)
    except ValueError:
        raise invalid(name, "must be a number") from None
    if not low <= value <= high:  # also refuses nan
        raise invalid(name, f"must be between {low:g} and {high:g}")
    return value


def boolean(query: Query, name: str, default: bool = False) -> bool:
    raw = query.get(name)
    if raw is None:
        return default
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    raise invalid(name, "must be true or false")
