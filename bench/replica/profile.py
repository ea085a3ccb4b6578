"""Where the replica's apply path spends its time, on real XREAD replies captured under load.

Each step of ``Replica._read_once`` is timed alone over the same entries
(reply by reply, best of a few rounds, so a noisy neighbour inflates it least), then the
whole per-entry path as it was (an entry and its bookkeeping at a time), then the loop
``Replica._read_once`` now runs (adopted from that comparison; re-implemented here so both
are timed on the same replies). Run after the tail
has stopped: applying entries again moves the replica's cursors, which no longer matters.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgspec

from atp import keys
from atp.limits import LEDGER_PARTITIONS
from atp.replica import Replica
from atp.replica_copy import parse_id

ROUNDS = 5


class ApplyCost(msgspec.Struct, frozen=True):
    """Nanoseconds per stream entry (``per_read_ns``: per XREAD reply) on this machine."""

    entries: int
    replies: int
    fields_dict_ns: float  # dict(zip(flat[::2], flat[1::2], strict=True))
    fields_dict_iter_ns: float  # dict(zip(it, it)) over one iterator
    stream_id_ns: float  # parse_id() for the lag sample
    set_position_ns: float  # PackedPositions.set_position with the parsed ints
    apply_ns: float  # one entry and its bookkeeping, fields already a dict
    current_ns: float  # the whole current loop of _read_once, per entry
    proposed_ns: float  # the proposed loop, per entry
    per_read_ns: float  # per reply: the 32 stream names and the XREAD argument list


def _best(run: Callable[[], object], count: int) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter_ns()
        run()
        best = min(best, time.perf_counter_ns() - started)
    return best / max(1, count)


def _apply_one(replica: Replica, partition: int, stream_id: str, fields: dict[str, str]) -> None:
    """The per-entry path as it was before the tail loop moved its bookkeeping per reply:
    the event, then its cursor, count and lag sample."""
    replica.apply_fields(fields)
    replica.cursors[partition] = stream_id
    parsed = replica.cursor_ids[partition] = parse_id(stream_id)
    replica.applied[partition] += 1
    replica.lag_ms.append(time.time() * 1000 - parsed[0])


def _current(replica: Replica, replies: list[Any]) -> None:
    for stream, entries in replies:
        partition = keys.partition_of_key(stream)
        for stream_id, flat in entries:
            _apply_one(replica, partition, stream_id, dict(zip(flat[::2], flat[1::2], strict=True)))


def _proposed(replica: Replica, replies: list[Any]) -> None:
    """The loop of the proposal: one dict per entry from a single iterator, the cursor,
    count and lag sample once per stream (its oldest entry: the worst lag of the reply)."""
    positions, cursors, applied = replica.positions, replica.cursors, replica.applied
    set_position = positions.set_position
    for stream, entries in replies:
        partition = keys.partition_of_key(stream)
        for _, flat in entries:
            it = iter(flat)
            fields = dict(zip(it, it, strict=False))
            sku = fields.get("sku")  # header events carry none
            if not sku:
                continue
            location = fields["loc"]
            values = (int(fields["oh"]), int(fields["rs"]), int(fields["sf"]), int(fields["in"]))
            oversold = fields.get("os")
            if oversold is None:
                set_position(sku, location, values)
            else:
                positions.set(sku, location, (*values, int(oversold)))
            if fields["t"] in ("incoming_added", "incoming_removed"):
                pass  # rare; the proposal keeps the current code for these
        cursors[partition] = entries[-1][0]
        applied[partition] += len(entries)
        first = entries[0][0]
        replica.lag_ms.append(time.time() * 1000 - int(first[: first.index("-")]))


def _reply_costs(replica: Replica, reply: list[Any]) -> list[float]:
    """Best-of-ROUNDS nanoseconds of each step over one reply's entries (totals)."""
    entries = [(stream, e) for stream, es in reply for e in es]
    flats = [e[1] for _, e in entries]
    ids = [e[0] for _, e in entries]
    dicts = [dict(zip(f[::2], f[1::2], strict=True)) for f in flats]
    moves = [
        (d["sku"], d["loc"], (int(d["oh"]), int(d["rs"]), int(d["sf"]), int(d["in"])))
        for d in dicts
        if d.get("sku")
    ]
    partitions = [keys.partition_of_key(s) for s, _ in entries]
    set_position = replica.positions.set_position

    def by_iter() -> None:
        for f in flats:
            it = iter(f)
            dict(zip(it, it, strict=False))

    def apply_only() -> None:
        for p, i, d in zip(partitions, ids, dicts, strict=True):
            _apply_one(replica, p, i, d)

    def per_read() -> tuple[object, ...]:
        streams = [keys.stream(p) for p in range(LEDGER_PARTITIONS)]
        return ("XREAD", "COUNT", 1000, "BLOCK", 100, "STREAMS", *streams, *replica.cursors)

    return [
        _best(lambda: [dict(zip(f[::2], f[1::2], strict=True)) for f in flats], 1),
        _best(by_iter, 1),
        _best(lambda: [parse_id(i) for i in ids], 1),
        _best(lambda: [set_position(s, loc, v) for s, loc, v in moves], 1),
        _best(apply_only, 1),
        _best(lambda: _current(replica, reply), 1),
        _best(lambda: _proposed(replica, reply), 1),
        _best(per_read, 1),
    ]


def apply_costs(replica: Replica, captured: list[Any]) -> ApplyCost:
    """``captured``: XREAD replies, each a list of (stream, entries). Each reply is timed on
    its own (best of ROUNDS), so a neighbour's time slice spoils one small sample, not all."""
    count = sum(len(es) for reply in captured for _, es in reply)
    totals = [0.0] * 8
    for reply in captured:
        totals = [t + c for t, c in zip(totals, _reply_costs(replica, reply), strict=True)]
    per_entry = [t / max(1, count) for t in totals]
    return ApplyCost(
        entries=count,
        replies=len(captured),
        fields_dict_ns=per_entry[0],
        fields_dict_iter_ns=per_entry[1],
        stream_id_ns=per_entry[2],
        set_position_ns=per_entry[3],
        apply_ns=per_entry[4],
        current_ns=per_entry[5],
        proposed_ns=per_entry[6],
        per_read_ns=totals[7] / max(1, len(captured)),
    )
