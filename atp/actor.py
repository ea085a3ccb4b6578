"""Who is acting: the party on whose behalf ledger events are appended, and the reference
they gave (a purchase order, an order id, a transfer, a free note).

One context variable, read by the transports (atp/redis_io.py): every script that declares
it (``take_actor()`` in its Lua, atp/scripts.py) is sent the current ``(by, ref)`` as its
last two ARGV, and ``emit`` stamps them on each event as fields ``by`` and ``ref``
(omitted when empty). The journal keeps them as columns ``actor`` and ``reference``.

``by`` is the API key id of an HTTP request (api/ops.py), else a system name: ``SWEEPER``
for expiries, ``RESOURCER`` for re-sourcing, ``CLI`` for ``atp`` commands.
"""

import contextlib
import re
from collections.abc import Iterator
from contextvars import ContextVar, Token

from atp.model import InvalidInput

Actor = tuple[str, str]  # (by, ref)

SWEEPER = "system:sweeper"
RESOURCER = "system:resourcer"
CLI = "cli"
NOBODY: Actor = ("", "")

REFERENCE_HEADER = "Atp-Reference"
REFERENCE_LENGTH_MAX = 200

_current: ContextVar[Actor] = ContextVar("atp_actor", default=NOBODY)


def current() -> Actor:
    """The acting party of this task (``("", "")`` when nobody said)."""
    return _current.get()


def set_actor(by: str, ref: str = "") -> Token[Actor]:
    """Sets the actor for the rest of this context (a process's own task, a command's
    main); ``reset`` undoes it."""
    return _current.set((by, ref))


def reset(token: Token[Actor]) -> None:
    _current.reset(token)


@contextlib.contextmanager
def acting(by: str, ref: str = "") -> Iterator[None]:
    """The actor for the writes made inside the block."""
    token = _current.set((by, ref))
    try:
        yield
    finally:
        _current.reset(token)


# 1 to 200 printable ASCII characters, neither first nor last a space (HTTP strips those).
REFERENCE_PATTERN = f"^[!-~](?:[ -~]{{0,{REFERENCE_LENGTH_MAX - 2}}}[!-~])?$"
_REFERENCE = re.compile(REFERENCE_PATTERN)


def check_reference(value: str | None) -> str:
    """The ``Atp-Reference`` header's value ('' when absent), or a 422 naming the header."""
    if value is None:
        return ""
    if _REFERENCE.fullmatch(value) is None:
        raise InvalidInput(
            f"header.{REFERENCE_HEADER}",
            f"must be 1 to {REFERENCE_LENGTH_MAX} printable ASCII characters"
            " (space to ~), not starting or ending with a space",
        )
    return value
