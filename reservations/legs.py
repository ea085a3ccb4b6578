"""Reading reservation headers and legs back into domain values."""

from collections.abc import Sequence

from atp.model import Channel
from reservations.model import LineStatus, Reservation, State, derived_state


def as_dict(reply: Sequence[str] | dict[str, str]) -> dict[str, str]:
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2], strict=True))


def leg_lines(leg: dict[str, str]) -> list[LineStatus]:
    lines = []
    for i in range(1, int(leg.get("n", 0)) + 1):
        lines.append(
            LineStatus(
                sku=leg[f"s{i}"],
                location=leg[f"l{i}"],
                qty=int(leg[f"q{i}"]),
                open=int(leg[f"o{i}"]),
                fulfilled=int(leg[f"f{i}"]),
                released=int(leg[f"r{i}"]),
                expired=int(leg[f"x{i}"]),
            )
        )
    return lines


def reservation_from(
    reservation_id: str, header: dict[str, str], legs: list[dict[str, str]]
) -> Reservation:
    lines = sorted(
        (ln for leg in legs for ln in leg_lines(leg)), key=lambda ln: (ln.sku, ln.location)
    )
    state = State(header["st"])
    expires = int(header["exp"]) if state is State.held else None
    return Reservation(
        id=reservation_id,
        channel=Channel(header["ch"]) if header.get("ch") else Channel.online,
        state=derived_state(state, lines),
        expires_at_ms=expires,
        lines=lines,
    )


def partitions_of(parts: str) -> list[int]:
    return [int(p) for p in parts.split(",") if p]
