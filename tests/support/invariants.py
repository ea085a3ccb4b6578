"""Whole-ledger invariants, read straight from Redis (every master of a cluster).

``check_ledger`` holds at any moment, even while a coordinator is dead midway:
- every position's reserved equals the open units of the legs on it, and replaying its
  partition's events from zero gives the position;
- per reservation and position, the reserved deltas its events carry add up to the units
  its leg still holds (each unit reserved once, returned or settled at most once);
- a live header's legs all exist, and only expired or aborted reservations had units
  expire (a committed one never loses its units to the sweeper).
With ``resolved=True`` (after the sweeper has run past every deadline) it also checks that
every leg has a header, units are held only by held or committed reservations, legs of a
committed reservation are committed (or closed), and no deadline before ``now_ms`` is left
unswept.
"""

import contextlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import redis

from atp import keys
from atp.events import SHORT
from reservations.layout import HEADER, LEG, LegState, leg_lines, partitions_of

LIVE = frozenset({"held", "committed"})  # header states, and the leg states that follow them
ENDED_BY_EXPIRY = frozenset({"expired", "aborted"})  # the only headers whose legs expire
# Event fields (atp/events.py) the replay reads.
_SKU, _LOC, _RID = SHORT["sku"], SHORT["location"], SHORT["reservation_id"]
_DRS = SHORT["d_reserved"]
_DELTAS = tuple(SHORT[n] for n in ("d_on_hand", "d_reserved", "d_safety", "d_incoming"))
_AFTER = tuple(SHORT[n] for n in ("on_hand", "reserved", "safety", "incoming"))
SCAN_COUNT = 1000
XRANGE_COUNT = 10_000
VIOLATIONS_SHOWN_MAX = 20


@dataclass
class Ledger:
    positions: dict[str, dict[str, int]] = field(default_factory=dict)  # key -> oh rs sf in
    legs: dict[tuple[int, str], dict[str, str]] = field(default_factory=dict)  # (p, rid)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # rid -> header hash
    expiry: dict[int, list[tuple[str, float]]] = field(default_factory=dict)
    events: dict[int, list[dict[str, str]]] = field(default_factory=dict)


@dataclass
class Summary:
    header_states: Counter[str]
    legs: int
    reserved_total: int
    events: int


def _rest(key: str) -> tuple[int, str]:
    """('atp:{p07}:leg:r1') -> (7, 'leg:r1')."""
    partition = keys.partition_of_key(key)
    return partition, key[key.index("}:") + 2 :]


def _read_stream(client: "redis.Redis[str]", key: str) -> list[dict[str, str]]:
    entries: list[dict[str, str]] = []
    start = "-"
    while batch := client.xrange(key, start, "+", count=XRANGE_COUNT):
        entries += [fields for _, fields in batch]
        start = "(" + batch[-1][0]
    return entries


def _read_node(client: "redis.Redis[str]", ledger: Ledger) -> None:
    hashes: list[tuple[str, int, str]] = []  # (kind, partition, name), fetched pipelined
    hash_keys: list[str] = []
    for key in client.scan_iter("atp:{p*", count=SCAN_COUNT):
        partition, rest = _rest(key)
        kind, _, name = rest.partition(":")
        if kind in ("pos", "leg", "res"):
            hashes.append((kind, partition, name))
            hash_keys.append(key)
        elif kind == "expiry":
            ledger.expiry[partition] = client.zrange(key, 0, -1, withscores=True)
        elif kind == "events":
            ledger.events[partition] = _read_stream(client, key)
    pipe = client.pipeline(transaction=False)
    for key in hash_keys:
        pipe.hgetall(key)
    for (kind, partition, name), key, values in zip(hashes, hash_keys, pipe.execute(), strict=True):
        if kind == "pos":
            ledger.positions[key] = {f: int(values.get(f, 0)) for f in ("oh", "rs", "sf", "in")}
        elif kind == "leg":
            ledger.legs[(partition, name)] = values
        else:
            ledger.headers[name] = values


def read_ledger(urls: Iterable[str]) -> Ledger:
    """Every ledger key of each Redis (a single database, or every master of a cluster)."""
    ledger = Ledger()
    for url in urls:
        with contextlib.closing(redis.Redis.from_url(url, decode_responses=True)) as client:
            _read_node(client, ledger)
    return ledger


def leg_open(leg: dict[str, str]) -> dict[str, int]:
    """Position key -> units this leg still holds there."""
    return {keys.position(ln.sku, ln.location): ln.open for ln in leg_lines(leg)}


def _check_positions(ledger: Ledger, out: list[str]) -> None:
    held: dict[str, int] = defaultdict(int)
    for leg in ledger.legs.values():
        for pos, units in leg_open(leg).items():
            held[pos] += units
    for pos in set(held) | set(ledger.positions):
        reserved = ledger.positions.get(pos, {}).get("rs", 0)
        if reserved != held[pos]:
            out.append(f"{pos}: reserved {reserved} but legs hold {held[pos]}")
        if reserved < 0:
            out.append(f"{pos}: reserved is negative ({reserved})")


def _check_replay(ledger: Ledger, out: list[str]) -> None:
    replayed: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    by_reservation: dict[tuple[str, str], int] = defaultdict(int)
    for entries in ledger.events.values():
        for ev in entries:
            if not ev.get(_SKU):
                continue  # a reservation header event: no position
            pos = keys.position(ev[_SKU], ev[_LOC])
            totals = replayed[pos]
            for i, name in enumerate(_DELTAS):  # a delta of 0 is not carried
                totals[i] += int(ev.get(name, 0))
            if [int(ev[f]) for f in _AFTER] != totals:  # every position event carries them
                out.append(f"{pos}: event 'after' {ev} disagrees with the replay {totals}")
            if ev.get(_RID):
                by_reservation[(ev[_RID], pos)] += int(ev.get(_DRS, 0))
    for pos, values in ledger.positions.items():
        expected = [values[f] for f in ("oh", "rs", "sf", "in")]
        if replayed.get(pos, [0, 0, 0, 0]) != expected:
            out.append(f"{pos}: position {expected}, events replay to {replayed.get(pos)}")
    still_open: dict[tuple[str, str], int] = defaultdict(int)
    for (_, rid), leg in ledger.legs.items():
        for pos, units in leg_open(leg).items():
            still_open[(rid, pos)] += units
    for pair in set(still_open) | set(by_reservation):
        if by_reservation[pair] != still_open[pair]:
            out.append(
                f"reservation {pair[0]} at {pair[1]}: its events net {by_reservation[pair]} "
                f"reserved, its leg holds {still_open[pair]}"
            )


def _expired_units(leg: dict[str, str]) -> int:
    return sum(ln.expired for ln in leg_lines(leg))


def _check_headers(ledger: Ledger, resolved: bool, out: list[str]) -> None:
    for (partition, rid), leg in ledger.legs.items():
        state = ledger.headers.get(rid, {}).get(HEADER.state)
        if _expired_units(leg) and state not in ENDED_BY_EXPIRY:
            out.append(f"leg {rid} in p{partition} had units expired under a {state} header")
    for rid, header in ledger.headers.items():
        if header.get(HEADER.state) not in LIVE:
            continue
        for part in partitions_of(header.get(HEADER.parts, "")):
            if (part, rid) not in ledger.legs:
                out.append(f"reservation {rid} is {header[HEADER.state]} but has no leg in p{part}")
    if not resolved:
        return
    for (partition, rid), leg in ledger.legs.items():
        header = ledger.headers.get(rid)
        units = sum(leg_open(leg).values())
        leg_state = leg.get(LEG.state)
        if header is None:
            out.append(f"leg {rid} in p{partition} ({leg_state}, {units} open) has no header")
            continue
        state = header.get(HEADER.state)
        if units and state not in LIVE:
            out.append(f"leg {rid} in p{partition} holds {units} units for a {state} header")
        if state == "committed" and leg_state not in (LegState.committed, LegState.closed):
            out.append(f"leg {rid} in p{partition} is {leg_state} under a committed header")
        if state not in LIVE and leg_state in LIVE:
            out.append(f"leg {rid} in p{partition} is {leg_state} under a {state} header")


def _check_swept(ledger: Ledger, now_ms: int, out: list[str]) -> None:
    for partition, entries in ledger.expiry.items():
        late = [member for member, deadline in entries if deadline <= now_ms]
        if late:
            out.append(f"p{partition}: deadlines passed but not swept: {late[:5]}")


def check_ledger(
    urls: Sequence[str], *, resolved: bool = False, now_ms: int | None = None
) -> Summary:
    """Raises AssertionError naming each violation; returns what it saw."""
    ledger = read_ledger(urls)
    violations: list[str] = []
    _check_positions(ledger, violations)
    _check_replay(ledger, violations)
    _check_headers(ledger, resolved, violations)
    if now_ms is not None:
        _check_swept(ledger, now_ms, violations)
    if violations:
        shown = "\n".join(violations[:VIOLATIONS_SHOWN_MAX])
        raise AssertionError(f"{len(violations)} ledger invariant violations:\n{shown}")
    return Summary(
        header_states=Counter(h.get(HEADER.state, "") for h in ledger.headers.values()),
        legs=len(ledger.legs),
        reserved_total=sum(p["rs"] for p in ledger.positions.values()),
        events=sum(len(e) for e in ledger.events.values()),
    )
