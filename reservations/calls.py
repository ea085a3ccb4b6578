"""One typed wrapper per reservation script: which keys, which arguments, in which order,
and its reply decoded (reservations/replies.py: one type per reply shape)."""

from collections.abc import Sequence

from atp import keys
from atp.limits import EVENT_STREAM_MAXLEN, LEG_EXPIRY_GRACE_MS, LEG_LINES_MAX, RETENTION_S
from atp.model import Channel
from atp.redis_io import Arg, RedisIO
from atp.scripts import load_script
from reservations import replies as r
from reservations.model import Line

_RESERVE_LEG = load_script("reservations.lua", "reserve_leg")
_RESERVE_ATOMIC = load_script("reservations.lua", "reserve_atomic")
_LEG_EXPIRE = load_script("reservations.lua", "leg_expire")
_LEG_COMMIT = load_script("reservations.lua", "leg_commit")
_LEG_SETTLE = load_script("reservations.lua", "leg_settle")
_HEADER_CREATE = load_script("reservations.lua", "header_create")
_HEADER_TOMBSTONE = load_script("reservations.lua", "header_tombstone")
_HEADER_COMMIT = load_script("reservations.lua", "header_commit")
_HEADER_EXTEND = load_script("reservations.lua", "header_extend")
_HEADER_EXPIRE = load_script("reservations.lua", "header_expire")
_HEADER_CLOSE = load_script("reservations.lua", "header_close")
_DUE = load_script("reservations.lua", "due")
_LEG_MOVE = load_script("reservations.lua", "leg_move")
_ATTENTION_FLAG = load_script("reservations.lua", "attention_flag")
_ATTENTION_RESOLVE = load_script("reservations.lua", "attention_resolve")
_SHORTAGE_CLEAR = load_script("reservations.lua", "shortage_clear")


def _leg_keys(partition: int, rid: str, positions: Sequence[tuple[str, str]]) -> list[str]:
    return [
        keys.leg(partition, rid),
        keys.stream(partition),
        keys.expiry_index(partition),
        *(keys.position(sku, loc) for sku, loc in positions),
    ]


def _header_keys(rid: str) -> list[str]:
    home = keys.partition_of_reservation(rid)
    return [keys.header(rid), keys.stream(home), keys.expiry_index(home)]


def _hold_args(rid: str, digest: str, channel: Channel, now_ms: int) -> list[Arg]:
    """The ARGV both hold scripts open with: id, digest, channel, allow_safety, now."""
    return [rid, digest, channel.value, 1 if channel is Channel.store else 0, now_ms]


def _line_args(lines: Sequence[Line]) -> list[Arg]:
    """Per line: sku, location, qty."""
    return [value for ln in lines for value in (ln.sku, ln.location, ln.qty)]


async def reserve_leg(
    redis: RedisIO,
    rid: str,
    digest: str,
    channel: Channel,
    partition: int,
    lines: Sequence[Line],
    ttl_ms: int,
    now_ms: int,
) -> r.LegHoldReply:
    args = _hold_args(rid, digest, channel, now_ms)
    args += [ttl_ms + LEG_EXPIRY_GRACE_MS, EVENT_STREAM_MAXLEN, *_line_args(lines)]
    positions = [(ln.sku, ln.location) for ln in lines]
    return r.LegHoldReply.from_reply(
        await redis.run(_RESERVE_LEG, _leg_keys(partition, rid, positions), args)
    )


async def reserve_atomic(
    redis: RedisIO,
    rid: str,
    digest: str,
    channel: Channel,
    legs: dict[int, list[Line]],
    ttl_ms: int,
    now_ms: int,
) -> r.HoldReply:
    """Every leg and the header in one script: only on a single Redis (cross-slot)."""
    keys_ = _header_keys(rid)
    args = _hold_args(rid, digest, channel, now_ms)
    args += [ttl_ms, LEG_EXPIRY_GRACE_MS, EVENT_STREAM_MAXLEN, ",".join(map(str, legs))]
    args.append(RETENTION_S)
    for partition, lines in legs.items():
        keys_ += _leg_keys(partition, rid, [(ln.sku, ln.location) for ln in lines])
        args += [len(lines), *_line_args(lines)]
    return r.HoldReply.from_reply(await redis.run(_RESERVE_ATOMIC, keys_, args))


async def leg_expire(
    redis: RedisIO,
    rid: str,
    partition: int,
    positions: Sequence[tuple[str, str]],
    mode: str,
    now_ms: int,
) -> r.LegReply:
    args: list[Arg] = [rid, now_ms, EVENT_STREAM_MAXLEN, RETENTION_S, mode]
    return r.LegReply.from_reply(
        await redis.run(_LEG_EXPIRE, _leg_keys(partition, rid, positions), args)
    )


async def leg_commit(redis: RedisIO, rid: str, partition: int, now_ms: int = 0) -> r.LegReply:
    """now_ms stamps the commit time the committed index orders by (0 = server time)."""
    leg_keys = [
        keys.leg(partition, rid),
        keys.expiry_index(partition),
        keys.committed_index(partition),
    ]
    return r.LegReply.from_reply(await redis.run(_LEG_COMMIT, leg_keys, [rid, now_ms]))


async def leg_settle(
    redis: RedisIO,
    rid: str,
    partition: int,
    action: str,
    header_committed: bool,
    targets: Sequence[tuple[int, str, str, int]],
    op_id: str,
    op_digest: str,
    now_ms: int,
) -> r.SettleReply:
    """targets: (line index, sku, location, qty; 0 = all still open)."""
    args: list[Arg] = [
        rid,
        action,
        1 if header_committed else 0,
        now_ms,
        EVENT_STREAM_MAXLEN,
        RETENTION_S,
        op_id,
        op_digest,
    ]
    for index, _, _, qty in targets:
        args += [index, qty]
    leg_keys = _leg_keys(partition, rid, [(sku, loc) for _, sku, loc, _ in targets])
    leg_keys.insert(3, keys.committed_index(partition))
    return r.SettleReply.from_reply(await redis.run(_LEG_SETTLE, leg_keys, args))


async def header_create(
    redis: RedisIO,
    rid: str,
    digest: str,
    channel: Channel,
    partitions: Sequence[int],
    ttl_ms: int,
    now_ms: int,
) -> r.HoldReply:
    args: list[Arg] = [
        rid,
        digest,
        channel.value,
        now_ms,
        ttl_ms,
        ",".join(map(str, partitions)),
        EVENT_STREAM_MAXLEN,
    ]
    return r.HoldReply.from_reply(await redis.run(_HEADER_CREATE, _header_keys(rid), args))


async def header_tombstone(redis: RedisIO, rid: str, channel: str, now_ms: int) -> r.TombstoneReply:
    args: list[Arg] = [rid, channel, now_ms, EVENT_STREAM_MAXLEN, RETENTION_S]
    return r.TombstoneReply.from_reply(
        await redis.run(_HEADER_TOMBSTONE, _header_keys(rid)[:2], args)
    )


async def header_commit(redis: RedisIO, rid: str, now_ms: int) -> r.CommitReply:
    return r.CommitReply.from_reply(
        await redis.run(_HEADER_COMMIT, _header_keys(rid), [rid, now_ms, EVENT_STREAM_MAXLEN])
    )


async def header_extend(redis: RedisIO, rid: str, ttl_ms: int, now_ms: int) -> r.ExtendReply:
    args: list[Arg] = [rid, now_ms, ttl_ms, EVENT_STREAM_MAXLEN]
    return r.ExtendReply.from_reply(await redis.run(_HEADER_EXTEND, _header_keys(rid), args))


async def header_expire(redis: RedisIO, rid: str, now_ms: int) -> r.ExpireReply:
    args: list[Arg] = [rid, now_ms, EVENT_STREAM_MAXLEN, RETENTION_S]
    return r.ExpireReply.from_reply(await redis.run(_HEADER_EXPIRE, _header_keys(rid), args))


async def header_close(redis: RedisIO, rid: str, final: str, now_ms: int) -> r.LegReply:
    args: list[Arg] = [rid, final, now_ms, EVENT_STREAM_MAXLEN, RETENTION_S]
    return r.LegReply.from_reply(await redis.run(_HEADER_CLOSE, _header_keys(rid), args))


async def due(redis: RedisIO, partition: int, now_ms: int, limit: int) -> list[str]:
    return list(await redis.run(_DUE, [keys.expiry_index(partition)], [now_ms, limit]))


async def leg_move(
    redis: RedisIO,
    rid: str,
    sku: str,
    source: str,
    target: str,
    qty: int,
    *,
    short_only: bool,
    op_id: str,
    now_ms: int,
) -> r.MoveReply:
    """Open units of a committed line from ``source`` to ``target`` (leg_move.lua)."""
    partition = keys.partition_of_sku(sku)
    move_keys = [
        keys.leg(partition, rid),
        keys.stream(partition),
        keys.committed_index(partition),
        keys.position(sku, source),
        keys.position(sku, target),
        keys.shortages(partition),
    ]
    digest = f"move|{sku}|{source}|{target}|{qty}|{int(short_only)}"
    args: list[Arg] = [
        rid,
        sku,
        source,
        target,
        qty,
        1 if short_only else 0,
        op_id,
        digest,
        now_ms,
        EVENT_STREAM_MAXLEN,
        LEG_LINES_MAX,
    ]
    return r.MoveReply.from_reply(await redis.run(_LEG_MOVE, move_keys, args))


def _attention_keys(sku: str, location: str) -> list[str]:
    partition = keys.partition_of_sku(sku)
    return [keys.attention(partition), keys.stream(partition), keys.position(sku, location)]


async def attention_flag(
    redis: RedisIO, rid: str, sku: str, location: str, units: int, why: str, now_ms: int
) -> r.FlagReply:
    args: list[Arg] = [rid, sku, location, units, why, now_ms, EVENT_STREAM_MAXLEN]
    flag_keys = [*_attention_keys(sku, location), keys.leg(keys.partition_of_sku(sku), rid)]
    return r.FlagReply.from_reply(await redis.run(_ATTENTION_FLAG, flag_keys, args))


async def attention_resolve(
    redis: RedisIO, rid: str, sku: str, location: str, note: str, now_ms: int
) -> r.ResolveReply:
    args: list[Arg] = [rid, sku, location, note, now_ms, EVENT_STREAM_MAXLEN]
    return r.ResolveReply.from_reply(
        await redis.run(_ATTENTION_RESOLVE, _attention_keys(sku, location), args)
    )


async def shortage_clear(redis: RedisIO, sku: str, location: str) -> r.ShortageReply:
    partition = keys.partition_of_sku(sku)
    clear_keys = [keys.shortages(partition), keys.position(sku, location)]
    return r.ShortageReply.from_reply(
        await redis.run(_SHORTAGE_CLEAR, clear_keys, [f"{location}|{sku}"])
    )
