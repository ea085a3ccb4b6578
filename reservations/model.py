"""Reservations as plain data and rules: requests, lifecycle states, outcomes."""

import enum
import itertools
from collections import defaultdict
from collections.abc import Sequence

import msgspec

from atp import keys
from atp.limits import LINE_QTY_MAX, ORDER_LINES_MAX, RESERVATION_TTL_S_MAX, RESERVATION_TTL_S_MIN
from atp.model import Channel, InvalidInput, Position
from atp.validate import check_id, check_int, check_qty, is_plain_id


class State(enum.StrEnum):
    held = "held"
    committed = "committed"
    fulfilled = "fulfilled"
    released = "released"
    expired = "expired"
    aborted = "aborted"  # an attempt whose coordinator died before it finished: never held


TERMINAL = frozenset({State.fulfilled, State.released, State.expired, State.aborted})


class Line(msgspec.Struct, frozen=True):
    sku: str
    location: str
    qty: int


class LineStatus(msgspec.Struct, frozen=True):
    sku: str
    location: str
    qty: int
    open: int  # still reserved
    fulfilled: int = 0
    released: int = 0
    expired: int = 0  # expired, or rolled back when the attempt failed elsewhere


class Shortfall(msgspec.Struct, frozen=True):
    sku: str
    location: str
    requested: int
    available: int


class Reservation(msgspec.Struct, frozen=True):
    id: str
    channel: Channel
    state: State
    expires_at_ms: int | None
    lines: list[LineStatus]


class ReserveResult(enum.StrEnum):
    reserved = "reserved"
    already_exists = "already_exists"  # same id and body: the original, returned again
    conflict = "conflict"  # same id, another body
    insufficient = "insufficient"
    aborted = "aborted"  # an earlier attempt with this id was abandoned and rolled back


class TransitionResult(enum.StrEnum):
    applied = "applied"
    duplicate = "duplicate"  # already in the asked state, or the same op id replayed
    not_found = "not_found"
    expired = "expired"
    illegal = "illegal"  # not allowed from the current state
    exceeds_open = "exceeds_open"  # more than is still reserved on a line
    unknown_line = "unknown_line"
    on_hand_short = "on_hand_short"  # fulfill more than is on hand: count first
    op_conflict = "op_conflict"


class ReserveOutcome(msgspec.Struct, frozen=True):
    result: ReserveResult
    reservation: Reservation | None = None
    shortfalls: list[Shortfall] = []
    # On `reserved`: each line's position right after the hold (request order), so the
    # caller reads its own write without asking again.
    positions: list[Position] = []

    @property
    def ok(self) -> bool:
        return self.result in (ReserveResult.reserved, ReserveResult.already_exists)


class TransitionOutcome(msgspec.Struct, frozen=True):
    result: TransitionResult
    reservation: Reservation | None = None
    detail: str = ""
    positions: list[Position] = []  # after a fulfill or release: each position it changed

    @property
    def ok(self) -> bool:
        return self.result in (TransitionResult.applied, TransitionResult.duplicate)


class ReserveRequest(msgspec.Struct, frozen=True):
    id: str
    channel: Channel
    lines: list[Line]  # sorted by (sku, location): the order legs and digests use
    ttl_s: int

    def digest(self) -> str:
        """The body a retry must repeat: the same id with another body is a conflict."""
        body = ";".join(f"{ln.location}|{ln.sku}|{ln.qty}" for ln in self.lines)
        return f"{self.channel.value}#{self.ttl_s}#{body}"


def sorted_lines(lines: Sequence[Line]) -> list[Line]:
    return sorted(lines, key=lambda ln: (ln.sku, ln.location))


def is_sorted(lines: Sequence[Line]) -> bool:
    return all((a.sku, a.location) < (b.sku, b.location) for a, b in itertools.pairwise(lines))


def make_request(
    reservation_id: str, channel: Channel | str, lines: Sequence[Line], ttl_s: int
) -> ReserveRequest:
    check_id("id", reservation_id)
    try:
        channel = Channel(channel)
    except ValueError:
        raise InvalidInput("channel", "must be online or store") from None
    check_int("ttl_s", ttl_s, RESERVATION_TTL_S_MIN, RESERVATION_TTL_S_MAX)
    check_lines(lines)
    return ReserveRequest(reservation_id, channel, sorted_lines(lines), ttl_s)


def check_lines(lines: Sequence[Line]) -> None:
    """Order lines: 1 to ORDER_LINES_MAX, valid ids and quantities, no sku-location twice."""
    if isinstance(lines, str) or not isinstance(lines, Sequence):
        raise InvalidInput("lines", "must be a list of lines")
    if not 1 <= len(lines) <= ORDER_LINES_MAX:
        raise InvalidInput("lines", f"must hold 1 to {ORDER_LINES_MAX} lines")
    seen = set()
    for i, line in enumerate(lines):
        if not isinstance(line, Line):
            raise InvalidInput(f"lines[{i}]", "must be a line of sku, location and qty")
        pair = (line.sku, line.location)
        # The common case, checked cheaply; the checkers below name the exact problem.
        if not (is_plain_id(line.sku) and is_plain_id(line.location) and is_qty(line.qty)):
            check_id(f"lines[{i}].sku", line.sku)
            check_id(f"lines[{i}].location", line.location)
            check_qty(f"lines[{i}].qty", line.qty, LINE_QTY_MAX)
        if pair in seen:
            raise InvalidInput(f"lines[{i}]", "repeats a sku and location of an earlier line")
        seen.add(pair)


def is_qty(value: object) -> bool:
    return type(value) is int and 1 <= value <= LINE_QTY_MAX


def lines_by_partition(lines: Sequence[Line]) -> dict[int, list[Line]]:
    """A reservation's legs: its lines grouped by partition, each sorted the same way."""
    legs: dict[int, list[Line]] = defaultdict(list)
    for line in lines if is_sorted(lines) else sorted_lines(lines):
        legs[keys.partition_of_sku(line.sku)].append(line)
    return dict(sorted(legs.items()))


def derived_state(header_state: State, lines: Sequence[LineStatus]) -> State:
    """A reservation with no open unit has ended: fulfilled if any unit was, else released
    (or expired, if its units expired). The header may lag its legs by a step after a crash
    (it closes after its legs); the legs' counts do not."""
    live = (State.held, State.committed, State.expired)
    if header_state in live and lines and all(ln.open == 0 for ln in lines):
        if any(ln.fulfilled for ln in lines):
            return State.fulfilled
        return State.expired if any(ln.expired for ln in lines) else State.released
    return header_state


def positions_of(flat: Sequence[object]) -> list[Position]:
    """A script's {sku, location, oh, rs, sf, in, ...} reply part as positions."""
    return [
        Position(str(flat[i]), str(flat[i + 1]), *(int(str(v)) for v in flat[i + 2 : i + 6]))
        for i in range(0, len(flat), 6)
    ]
