"""What the positions cost in a hold's answer, timed in this process: building the answer
(``ReservationOut.of``) and encoding it (``api.codec.json_response``) with the hold's
position and without. Sampling cannot split one msgspec encode by field; this can."""

import time

import msgspec

from api.codec import json_response
from api.schemas_res import ReservationOut
from atp.model import Channel, Position
from reservations.model import LineStatus, Reservation, State

CALLS = 20_000
REPEATS = 5  # the fastest of these: the least disturbed by other processes


class PositionsCost(msgspec.Struct, frozen=True):
    answer_us: float  # ReservationOut.of + json_response, with the position
    answer_without_us: float
    positions_us: float  # the difference: what the positions add per 1-line hold
    body_bytes: int
    body_bytes_without: int


def _cpu_us(positions: list[Position], reservation: Reservation) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        started = time.process_time()
        for _ in range(CALLS):
            json_response(201, ReservationOut.of(reservation, positions))
        best = min(best, (time.process_time() - started) / CALLS * 1e6)
    return best


def measure() -> PositionsCost:
    line = LineStatus("B-007", "W1", 1, open=1)
    held = Reservation("w-0123abcd-1-42", Channel.online, State.held, 1_800_000_900_000, [line])
    after = [Position("B-007", "W1", 10_000_000, 1234, 0, 0)]
    with_positions = _cpu_us(after, held)
    without = _cpu_us([], held)
    return PositionsCost(
        answer_us=round(with_positions, 2),
        answer_without_us=round(without, 2),
        positions_us=round(with_positions - without, 2),
        body_bytes=len(bytes(json_response(201, ReservationOut.of(held, after)).body)),
        body_bytes_without=len(bytes(json_response(201, ReservationOut.of(held)).body)),
    )
