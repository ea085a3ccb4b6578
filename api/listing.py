"""Listing reservations by SCAN over header keys: the engine keeps no listing index.

An index maintained beside the engine's scripts could drift from them (a crash between
the two writes), so this reads the truth instead. Cost: every page SCANs the keyspace
from its cursor in steps of SCAN_COUNT keys (at most LIST_SCAN_STEPS_MAX steps a page, so
a page may come back short with a cursor to continue) and reads each matching
reservation (header and legs) to filter by derived state and location. Fine for support
tools and reconciliation; not for hot paths. The cursor is the SCAN cursor plus the last
id returned from its batch, so a page boundary inside a batch loses nothing. Reservations
created during a listing may or may not appear (SCAN's guarantee). On a Redis Cluster each
master is scanned in turn (masters sorted by name, atp/redis_nodes.py) and the cursor also
names the master by its index; a single Redis is master 0, whose cursors keep the old form.
A listing that spans a change of the cluster's masters may repeat or miss reservations.
"""

import asyncio
import base64
import binascii

from atp import keys, redis_nodes
from atp.model import InvalidInput
from engine.protocol import LedgerEngine
from reservations.model import Reservation, State

SCAN_COUNT = 1000
LIST_SCAN_STEPS_MAX = 20
_MATCH = keys.HEADERS_PATTERN


def encode_cursor(scan_cursor: str, last_id: str, node: int = 0) -> str:
    position = f"{node}/{scan_cursor}" if node else scan_cursor
    return base64.urlsafe_b64encode(f"{position}:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[int, str, str]:
    """(master index, SCAN cursor on it, last id returned) of a cursor this API returned."""
    if not cursor:
        return 0, "0", ""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("cursor", "is not a cursor this API returned") from None
    position, sep, last_id = raw.partition(":")
    node, slash, scan_cursor = position.rpartition("/")
    if not sep or not scan_cursor.isdigit() or (slash and not node.isdigit()):
        raise InvalidInput("cursor", "is not a cursor this API returned")
    return int(node or 0), scan_cursor, last_id


def _matches(
    r: Reservation | None,
    state: State | None,
    location: str | None,
    within: frozenset[str] | None,
) -> bool:
    if r is None or (state is not None and r.state is not state):
        return False
    if within is not None and any(ln.location not in within for ln in r.lines):
        return False  # a key bound to stores sees only reservations wholly at them
    return location is None or any(ln.location == location for ln in r.lines)


async def list_reservations(
    engine: LedgerEngine,
    state: State | None,
    location: str | None,
    limit: int,
    cursor: str | None,
    within: frozenset[str] | None = None,
) -> tuple[list[Reservation], str | None]:
    node, scan_cursor, after = decode_cursor(cursor)
    redis, found = engine.redis, []
    nodes = await redis_nodes.primaries(redis)
    if node >= len(nodes):
        raise InvalidInput("cursor", "is not a cursor this API returned")
    for _ in range(LIST_SCAN_STEPS_MAX):
        next_cursor, names = await redis_nodes.scan_node(
            redis, nodes[node], scan_cursor, _MATCH, SCAN_COUNT
        )
        ids = sorted(n.rsplit(":res:", 1)[1] for n in names)
        ids = [i for i in ids if i > after]
        batch = await asyncio.gather(*(engine.reservations.get(i) for i in ids))
        for rid, reservation in zip(ids, batch, strict=True):
            if _matches(reservation, state, location, within):
                assert reservation is not None
                found.append(reservation)
                if len(found) == limit:
                    return found, encode_cursor(scan_cursor, rid, node)
        scan_cursor, after = next_cursor, ""
        if scan_cursor == "0":  # this master is done: the next one, from its start
            node += 1
            if node == len(nodes):
                return found, None
    return found, encode_cursor(scan_cursor, "", node)
