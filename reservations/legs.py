"""Reading reservation headers and legs back into domain values."""

from collections.abc import Sequence

from atp.model import Channel
from atp.redis_io import hash_reply
from reservations.model import LineStatus, Reservation, State, derived_state


def as_dict(reply: Sequence[str] | dict[str, str]) -> dict[str, str]:
    """A hash reply as a dict of strings (atp.redis_io.hash_reply)."""
    return hash_reply(reply)


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


def partitions_of(parts: str) -> tuple[int, ...]:
    """A header's ``parts`` field (csv of leg partitions) as partition numbers."""
    return tuple(int(p) for p in parts.split(",") if p)
