"""The reservation scripts' replies, typed: one NamedTuple per reply shape (so ``reply[0]``
still reads as the outcome), decoded by its ``from_reply``, the one place that reads a reply
by position (the contracts: reservations/lua/*.lua headers). Callers use the named fields.
Scripts answering in a transition's words (commit, extend, settle) use TransitionResult."""

import enum
from collections.abc import Sequence
from typing import Any, NamedTuple

from atp.model import Position
from reservations.layout import partitions_of
from reservations.model import Shortfall, TransitionResult, positions_of


def _int(value: object) -> int:
    return int(str(value))


def _str_at(reply: Sequence[Any], index: int) -> str:  # '' where the script sent a nil
    return str(reply[index]) if len(reply) > index else ""


def _positions(reply: Sequence[Any], index: int) -> tuple[Position, ...]:
    return tuple(positions_of(reply[index])) if len(reply) > index else ()


def _shortfalls(flat: Sequence[Any]) -> tuple[Shortfall, ...]:
    return tuple(
        Shortfall(str(flat[i]), str(flat[i + 1]), _int(flat[i + 2]), _int(flat[i + 3]))
        for i in range(0, len(flat), 4)
    )


class HoldResult(enum.StrEnum):
    held = "held"
    already_exists = "already_exists"
    conflict = "conflict"
    aborted = "aborted"
    insufficient = "insufficient"  # reserve_atomic only


class HoldReply(NamedTuple):
    """reserve_atomic's reply, and header_create's (no positions, no insufficient)."""

    result: HoldResult
    expires_ms: int = 0  # held, already_exists
    state: str = ""  # already_exists: the header's state
    positions: tuple[Position, ...] = ()  # held (reserve_atomic): each line's after the hold
    shortfalls: tuple[Shortfall, ...] = ()  # insufficient

    @classmethod
    def from_reply(cls, reply: Sequence[Any]) -> "HoldReply":
        result = HoldResult(str(reply[0]))
        if result is HoldResult.held:
            return cls(result, expires_ms=_int(reply[1]), positions=_positions(reply, 2))
        if result is HoldResult.already_exists:
            expires = _str_at(reply, 2)  # unread by callers: a missing one must not fail them
            return cls(result, expires_ms=int(expires or 0), state=str(reply[1]))
        if result is HoldResult.insufficient:
            return cls(result, shortfalls=_shortfalls(reply[1:]))
        return cls(result)


class LegHoldResult(enum.StrEnum):
    reserved = "reserved"
    already_exists = "already_exists"
    conflict = "conflict"
    insufficient = "insufficient"


class LegHoldReply(NamedTuple):
    """reserve_leg's reply."""

    result: LegHoldResult
    state: str = ""  # already_exists: the leg's state
    positions: tuple[Position, ...] = ()  # reserved: each line's after the hold
    shortfalls: tuple[Shortfall, ...] = ()  # insufficient

    @classmethod
    def from_reply(cls, reply: Sequence[Any]) -> "LegHoldReply":
        result = LegHoldResult(str(reply[0]))
        if result is LegHoldResult.reserved:
            return cls(result, positions=_positions(reply, 1))
        if result is LegHoldResult.already_exists:
            return cls(result, state=_str_at(reply, 1))
        if result is LegHoldResult.insufficient:
            return cls(result, shortfalls=_shortfalls(reply[1:]))
        return cls(result)


class LegResult(enum.StrEnum):
    applied = "applied"
    noop = "noop"


class LegReply(NamedTuple):
    """leg_commit's, leg_expire's and header_close's reply: {'applied'} | {'noop', state}."""

    result: LegResult
    state: str = ""

    @classmethod
    def from_reply(cls, reply: Sequence[Any]) -> "LegReply":
        return cls(LegResult(str(reply[0])), _str_at(reply, 1))


class SettleReply(NamedTuple):
    """leg_settle's reply."""

    result: TransitionResult
    state: str = ""  # applied, duplicate, illegal
    line: int = 0  # exceeds_open, on_hand_short: the line's index in its leg
    units: int = 0  # exceeds_open: units open; on_hand_short: on hand
    positions: tuple[Position, ...] = ()  # applied: each settled line's position after

    @classmethod
    def from_reply(cls, reply: Sequence[Any]) -> "SettleReply":
        result = TransitionResult(str(reply[0]))
        if result in (TransitionResult.exceeds_open, TransitionResult.on_hand_short):
            return cls(result, line=_int(reply[1]), units=_int(reply[2]))
        if result is TransitionResult.applied:
            return cls(result, _str_at(reply, 1), positions=_positions(reply, 2))
        return cls(result, _str_at(reply, 1))

    @property
    def detail(self) -> str:
        """The reply as words: '<result>' and what the script said with it."""
        if self.result in (TransitionResult.exceeds_open, TransitionResult.on_hand_short):
            return f"{self.result} {self.line} {self.units}"
        if self.state and self.result is not TransitionResult.applied:
            return f"{self.result} {self.state}"
        return str(self.result)


class CommitReply(NamedTuple):
    """header_commit's reply."""

    result: TransitionResult
    partitions: tuple[int, ...] = ()  # applied, duplicate, expired: the legs' partitions
    state: str = ""  # illegal: the header's state

    @classmethod
    def from_reply(cls, reply: Sequence[Any]) -> "CommitReply":
        result = TransitionResult(str(reply[0]))
        if result is TransitionResult.illegal:
            return cls(result, state=_str_at(reply, 1))
        return cls(result, partitions=partitions_of(_str_at(reply, 1)))


class ExtendReply(NamedTuple):
    """header_extend's reply."""

    result: TransitionResult
    expires_ms: int = 0  # applied: the new deadline
    state: str = ""  # illegal: the header's state

    @classmethod
    def from_reply(cls, reply: Sequence[Any]) -> "ExtendReply":
        result = TransitionResult(str(reply[0]))
        if result is TransitionResult.applied:
            return cls(result, expires_ms=_int(reply[1]))
        if result is TransitionResult.illegal:
            return cls(result, state=_str_at(reply, 1))
        return cls(result)


class ExpireResult(enum.StrEnum):
    applied = "applied"
    not_due = "not_due"
    noop = "noop"
    not_found = "not_found"


class ExpireReply(NamedTuple):
    """header_expire's reply."""

    result: ExpireResult
    partitions: tuple[int, ...] = ()  # applied, noop: the legs' partitions
    state: str = ""  # noop: the header's state (not held)
    expires_ms: int = 0  # not_due: the header's deadline

    @classmethod
    def from_reply(cls, reply: Sequence[Any]) -> "ExpireReply":
        result = ExpireResult(str(reply[0]))
        if result is ExpireResult.applied:
            return cls(result, partitions=partitions_of(_str_at(reply, 1)))
        if result is ExpireResult.noop:
            return cls(result, partitions_of(_str_at(reply, 2)), state=_str_at(reply, 1))
        if result is ExpireResult.not_due:
            return cls(result, expires_ms=_int(reply[1]))
        return cls(result)

    @property
    def finished(self) -> bool:
        """The header is expired (or aborted) now: its legs' units are to return."""
        return self.result is ExpireResult.applied or (
            self.result is ExpireResult.noop and self.state in ("expired", "aborted")
        )


class TombstoneResult(enum.StrEnum):
    aborted = "aborted"
    exists = "exists"


class TombstoneReply(NamedTuple):
    """header_tombstone's reply: {'aborted'} | {'exists', state}."""

    result: TombstoneResult
    state: str = ""  # exists: the header's state

    @classmethod
    def from_reply(cls, reply: Sequence[Any]) -> "TombstoneReply":
        return cls(TombstoneResult(str(reply[0])), _str_at(reply, 1))


class MoveResult(enum.StrEnum):
    applied = "applied"
    duplicate = "duplicate"
    op_conflict = "op_conflict"
    not_found = "not_found"
    illegal = "illegal"
    no_line = "no_line"
    exceeds_open = "exceeds_open"
    not_short = "not_short"
    insufficient = "insufficient"
    too_many_lines = "too_many_lines"


class MoveReply(NamedTuple):
    """leg_move's reply."""

    result: MoveResult
    units: int = 0  # applied: moved; exceeds_open: open; insufficient: available at target
    state: str = ""  # illegal: the leg's state

    @classmethod
    def from_reply(cls, reply: Sequence[Any]) -> "MoveReply":
        result = MoveResult(str(reply[0]))
        if result is MoveResult.illegal:
            return cls(result, state=_str_at(reply, 1))
        if result in (MoveResult.applied, MoveResult.exceeds_open, MoveResult.insufficient):
            return cls(result, units=_int(reply[1]))
        return cls(result)


class FlagResult(enum.StrEnum):
    applied = "applied"
    duplicate = "duplicate"
    not_needed = "not_needed"


class FlagReply(NamedTuple):
    """attention_flag's reply: {'applied', units} | {'duplicate', units} | {'not_needed'}."""

    result: FlagResult
    units: int = 0  # applied, duplicate: the units flagged

    @classmethod
    def from_reply(cls, reply: Sequence[Any]) -> "FlagReply":
        result = FlagResult(str(reply[0]))
        return cls(result, 0 if result is FlagResult.not_needed else _int(reply[1]))


class ResolveResult(enum.StrEnum):
    applied = "applied"
    not_found = "not_found"


class ResolveReply(NamedTuple):
    """attention_resolve's reply: {'applied'} | {'not_found'}."""

    result: ResolveResult

    @classmethod
    def from_reply(cls, reply: Sequence[Any]) -> "ResolveReply":
        return cls(ResolveResult(str(reply[0])))


class ShortageResult(enum.StrEnum):
    cleared = "cleared"
    short = "short"


class ShortageReply(NamedTuple):
    """shortage_clear's reply: {'cleared'} | {'short', reserved - on hand}."""

    result: ShortageResult
    short: int = 0  # short: reserved - on hand

    @classmethod
    def from_reply(cls, reply: Sequence[Any]) -> "ShortageReply":
        result = ShortageResult(str(reply[0]))
        return cls(result, _int(reply[1]) if result is ShortageResult.short else 0)
