"""Listing reservations by SCAN over header keys: the engine keeps no listing index.

An index maintained beside the engine's scripts could drift from them (a crash between
the two writes), so this reads the truth instead. Cost: every page SCANs the keyspace
from its cursor in steps of SCAN_COUNT keys (at most LIST_SCAN_STEPS_MAX steps a page, so
a page may come back short with a cursor to continue) and reads each matching
reservation (header and legs) to filter by derived state and location. Fine for support
tools and reconciliation; not for hot paths. The cursor is the SCAN cursor plus the last
id returned from its batch, so a page boundary inside a batch loses nothing. Reservations
created during a listing may or may not appear (SCAN's guarantee). Single Redis only: on a
cluster each node would need its own scan.
"""

import asyncio
import base64
import binascii

from atp import keys
from atp.model import InvalidInput
from engine.protocol import LedgerEngine
from reservations.model import Reservation, State

SCAN_COUNT = 1000
LIST_SCAN_STEPS_MAX = 20
_MATCH = keys.HEADERS_PATTERN


def encode_cursor(scan_cursor: str, last_id: str) -> str:
    return base64.urlsafe_b64encode(f"{scan_cursor}:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[str, str]:
    if not cursor:
        return "0", ""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("cursor", "is not a cursor this API returned") from None
    scan_cursor, sep, last_id = raw.partition(":")
    if not sep or not scan_cursor.isdigit():
        raise InvalidInput("cursor", "is not a cursor this API returned")
    return scan_cursor, last_id


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
    scan_cursor, after = decode_cursor(cursor)
    redis, found = engine.redis, []
    for _ in range(LIST_SCAN_STEPS_MAX):
        next_cursor, names = await redis.command(
            "SCAN", scan_cursor, "MATCH", _MATCH, "COUNT", SCAN_COUNT
        )
        ids = sorted(n.rsplit(":res:", 1)[1] for n in names)
        ids = [i for i in ids if i > after]
        batch = await asyncio.gather(*(engine.reservations.get(i) for i in ids))
        for rid, reservation in zip(ids, batch, strict=True):
            if _matches(reservation, state, location, within):
                assert reservation is not None
                found.append(reservation)
                if len(found) == limit:
                    return found, encode_cursor(scan_cursor, rid)
        scan_cursor, after = str(next_cursor), ""
        if scan_cursor == "0":
            return found, None
    return found, encode_cursor(scan_cursor, "")
