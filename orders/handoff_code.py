"""Cart handoff codes as plain rules (no I/O): how a code is made, read back and shown, and
what a code's reservation lets the counter do with it (orders/handoff.py applies these).

A code is read aloud to an associate or typed at a till, so its alphabet leaves out the
characters people confuse (0/O, 1/I/L, and U, as Crockford's base 32 does) and it is
accepted in any case, with or without the dash it is shown with.
"""

import enum
import secrets
from collections.abc import Sequence

from atp.model import InvalidInput
from reservations.model import LineStatus, Reservation, State

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8  # 30**8: about 6.6e11 codes, each live only while its hold lasts
GROUP_LENGTH = 4  # shown as two groups of four: K7QX-3M9P
SEPARATORS = "- "  # what a typed code may carry between its groups
CODE_TYPED_LENGTH_MAX = 16  # a typed code longer than this is not one (the path parameter's bound)
CODE_ATTEMPTS_MAX = 8  # new codes tried when one is taken, before giving up

_GROUPS = CODE_LENGTH // GROUP_LENGTH
_CLASS = "".join(sorted(set(ALPHABET + ALPHABET.lower())))
# A code as the API accepts it (its path parameter's schema): any case, dashes optional.
CODE_PATTERN = "^" + "-?".join([f"[{_CLASS}]{{{GROUP_LENGTH}}}"] * _GROUPS) + "$"
CODE_SHOWN_LENGTH = CODE_LENGTH + _GROUPS - 1

assert len(set(ALPHABET)) == len(ALPHABET) and not set(ALPHABET) & set("01OILU")
assert CODE_LENGTH % GROUP_LENGTH == 0 and CODE_TYPED_LENGTH_MAX >= CODE_LENGTH + 1


def generate() -> str:
    """A new code in its stored form (no dash), from the system's cryptographic source."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise(typed: str) -> str:
    """A typed code in its stored form: upper case, separators dropped. Raises InvalidInput
    naming ``code`` when it cannot be one."""
    if len(typed) > CODE_TYPED_LENGTH_MAX:
        raise InvalidInput("code", f"a handoff code has {CODE_LENGTH} characters")
    code = "".join(c for c in typed.upper() if c not in SEPARATORS)
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        raise InvalidInput(
            "code", f"a handoff code is {CODE_LENGTH} characters from {ALPHABET}, like K7QX-3M9P"
        )
    return code


def display(code: str) -> str:
    """The stored form grouped for reading aloud: K7QX3M9P -> K7QX-3M9P."""
    return "-".join(code[i : i + GROUP_LENGTH] for i in range(0, len(code), GROUP_LENGTH))


class HandoffResult(enum.StrEnum):
    created = "created"
    existing = "existing"  # the reservation already has a code: the same one, again
    found = "found"
    completed = "completed"
    duplicate = "duplicate"  # completed before: the same answer, nothing done twice
    not_found = "not_found"  # no such code
    reservation_not_found = "reservation_not_found"
    not_held = "not_held"  # a code is given only to a held reservation
    several_locations = "several_locations"  # the counter completes one store's lines
    order_reservation = "order_reservation"  # an order's hold: the order's pickup flow
    expired = "expired"  # the hold expired: the code with it
    void = "void"  # the reservation ended otherwise (released, fulfilled elsewhere)
    refused = "refused"  # the ledger refused the fulfillment (e.g. on hand short)
    codes_exhausted = "codes_exhausted"  # CODE_ATTEMPTS_MAX codes in a row were taken


class CodeState(enum.StrEnum):
    open = "open"  # the counter may complete it
    completing = "completing"  # begun; the recovery sweep finishes it if its process died
    completed = "completed"
    expired = "expired"
    void = "void"


def is_past(expires_at_ms: int | None, now_ms: int) -> bool:
    return expires_at_ms is not None and expires_at_ms <= now_ms


def code_state(
    begun: bool, completed: bool, reservation: Reservation | None, now_ms: int
) -> CodeState:
    """What a code stands for now: its own record first, then its reservation's state."""
    if completed:
        return CodeState.completed
    if begun:
        return CodeState.completing
    if reservation is None:
        return CodeState.void
    state = reservation.state
    if state is State.expired or (
        state is State.held and is_past(reservation.expires_at_ms, now_ms)
    ):
        return CodeState.expired
    if state in (State.held, State.committed):
        return CodeState.open
    return CodeState.void


def locations_of(lines: Sequence[LineStatus]) -> list[str]:
    return sorted({ln.location for ln in lines})


def refuse_new(reservation: Reservation, now_ms: int) -> tuple[HandoffResult, str] | None:
    """Why ``reservation`` may not be given a code (None: it may)."""
    if reservation.state is not State.held:
        return HandoffResult.not_held, f"reservation is {reservation.state.value}"
    if is_past(reservation.expires_at_ms, now_ms):
        return HandoffResult.expired, "the hold has expired"
    where = locations_of(reservation.lines)
    if len(where) != 1:
        return (
            HandoffResult.several_locations,
            f"the reservation holds stock at {', '.join(where)}; a handoff completes at one "
            "store: hold the lines at the store the customer will visit",
        )
    return None
