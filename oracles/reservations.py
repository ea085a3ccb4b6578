"""The reference model of reservations: what the reservation scripts do, on plain dicts.

Headers and legs are kept as the same string fields Redis holds, built and read by the real
layout (reservations/layout.py), so only the scripts' rules are written a second time here.
"""

from collections import defaultdict
from collections.abc import Sequence

from atp import keys
from atp.limits import LEDGER_PARTITIONS, LEG_EXPIRY_GRACE_MS, LEG_LINES_MAX
from atp.model import Channel
from oracles.ledger import ReferenceLedger
from reservations.expiry import state_after_expire
from reservations.layout import (
    HEADER,
    LEG,
    LINE,
    Header,
    LegState,
    as_dict,
    header_fields,
    leg_fields,
    leg_lines,
    line_field,
    line_fields,
    op_receipt,
    partitions_of,
    reservation_from,
)
from reservations.model import (
    Line,
    LineStatus,
    Reservation,
    ReserveOutcome,
    ReserveResult,
    Shortfall,
    State,
    TransitionOutcome,
    TransitionResult,
    check_lines,
    lines_by_partition,
    make_request,
    sorted_lines,
)
from reservations.settle import decide_settle

Hash = dict[str, str]


def _add(leg: Hash, field: str, units: int) -> None:
    """HINCRBY on the model's hash (a field not there counts from 0)."""
    leg[field] = str(int(leg.get(field, 0)) + units)


class ReferenceReservations:
    """``atomic``: the single-Redis path (reserve_atomic.lua), where a refused request writes
    nothing; otherwise the cluster path, whose legs reserve then roll back."""

    def __init__(self, ledger: ReferenceLedger, atomic: bool = True) -> None:
        self.ledger = ledger
        self.atomic = atomic
        self.headers: dict[str, Hash] = {}
        self.legs: dict[tuple[int, str], Hash] = {}
        self.expiry: dict[int, dict[str, int]] = defaultdict(dict)

    # -- scripts -----------------------------------------------------------------------
    def _leg_shortfalls(self, channel: Channel, lines: list[Line]) -> list[object]:
        short: list[object] = []
        for ln in lines:
            v = self.ledger.vector(ln.sku, ln.location)
            available = v[0] - v[1] - (0 if channel is Channel.store else v[2])
            if ln.qty > available:
                short += [ln.sku, ln.location, ln.qty, max(0, available)]
        return short

    def _leg_hold(
        self,
        rid: str,
        digest: str,
        channel: Channel,
        p: int,
        lines: list[Line],
        deadline: int,
        now: int,
    ) -> None:
        for ln in lines:
            before = self.ledger.vector(ln.sku, ln.location)
            after = [before[0], before[1] + ln.qty, before[2], before[3]]
            self.ledger.write(
                ln.sku, ln.location, before, after, now, "reserved", channel.value, rid
            )
        held = [LineStatus(ln.sku, ln.location, ln.qty, open=ln.qty) for ln in lines]
        self.legs[(p, rid)] = as_dict(leg_fields(digest, "held", channel.value, held))
        self.expiry[p][f"l:{rid}"] = deadline

    def _reserve_leg(
        self,
        rid: str,
        digest: str,
        channel: Channel,
        p: int,
        lines: list[Line],
        ttl_ms: int,
        now: int,
    ) -> list[object]:
        leg = self.legs.get((p, rid))
        if leg is not None:
            if leg[LEG.digest] != digest:
                return ["conflict"]
            return ["already_exists", leg[LEG.state]]
        short = self._leg_shortfalls(channel, lines)
        if short:
            return ["insufficient", *short]
        self._leg_hold(rid, digest, channel, p, lines, now + ttl_ms + LEG_EXPIRY_GRACE_MS, now)
        return ["reserved"]

    def _leg_expire(self, rid: str, p: int, mode: str, now: int) -> None:
        self.expiry[p].pop(f"l:{rid}", None)
        leg = self.legs.get((p, rid))
        if leg is None or leg[LEG.state] != LegState.held:
            return
        for i, line in enumerate(leg_lines(leg), start=1):
            if line.open > 0:
                before = self.ledger.vector(line.sku, line.location)
                after = [before[0], before[1] - line.open, before[2], before[3]]
                self.ledger.write(line.sku, line.location, before, after, now, mode, mode, rid)
                leg[line_field(LINE.open, i)] = "0"
                leg[line_field(LINE.expired, i)] = str(line.expired + line.open)
        if mode == "rolled_back":
            del self.legs[(p, rid)]
        else:
            leg[LEG.state] = LegState.expired.value

    def _leg_commit(self, rid: str, p: int) -> None:
        self.expiry[p].pop(f"l:{rid}", None)
        leg = self.legs.get((p, rid))
        if leg is not None and leg[LEG.state] == LegState.held:
            leg[LEG.state] = LegState.committed.value

    @staticmethod
    def _past_deadline(h: Hash, now: int) -> bool:
        """header_commit's and header_extend's test: expired, or held past its deadline."""
        state = h[HEADER.state]
        return state == "expired" or (state == "held" and now >= int(h[HEADER.expires_ms]))

    def _home_expiry(self, rid: str) -> dict[str, int]:
        return self.expiry[keys.partition_of_reservation(rid)]

    def _header_expire(self, rid: str, now: int) -> list[object]:
        h = self.headers.get(rid)
        if h is None:
            self._home_expiry(rid).pop(f"h:{rid}", None)
            return ["not_found"]
        if h[HEADER.state] != "held":
            self._home_expiry(rid).pop(f"h:{rid}", None)
            return ["noop", h[HEADER.state], h[HEADER.parts]]
        if now < int(h[HEADER.expires_ms]):
            return ["not_due", int(h[HEADER.expires_ms])]
        h[HEADER.state] = "expired"
        self._home_expiry(rid).pop(f"h:{rid}", None)
        self.ledger.emit_header(rid, "reservation_expired", "expired", now)
        return ["applied", h[HEADER.parts]]

    # -- coordinator -------------------------------------------------------------------
    def reserve(
        self, rid: str, channel: Channel | str, lines: Sequence[Line], ttl_s: int, now: int
    ) -> ReserveOutcome:
        request = make_request(rid, channel, lines, ttl_s)
        digest, ttl_ms = request.digest(), request.ttl_s * 1000
        legs = lines_by_partition(request.lines)
        if self.atomic:
            return self._reserve_atomic(
                rid, request.channel, digest, legs, ttl_ms, now, request.lines
            )
        replies = {
            p: self._reserve_leg(rid, digest, request.channel, p, ls, ttl_ms, now)
            for p, ls in legs.items()
        }
        fresh = [p for p, r in replies.items() if r[0] == "reserved"]
        if any(r[0] == "conflict" for r in replies.values()):
            for p in fresh:
                self._leg_expire(rid, p, "rolled_back", now)
            return ReserveOutcome(ReserveResult.conflict)
        short = [
            Shortfall(str(r[i]), str(r[i + 1]), int(str(r[i + 2])), int(str(r[i + 3])))
            for r in replies.values()
            if r[0] == "insufficient"
            for i in range(1, len(r), 4)
        ]
        if short:
            stale = [p for p, r in replies.items() if r[0] == "already_exists" and r[1] == "held"]
            for p in fresh + stale:
                self._leg_expire(rid, p, "rolled_back", now)
            return ReserveOutcome(ReserveResult.insufficient, shortfalls=short)
        header = self.headers.get(rid)
        if header is not None:
            for p in fresh:
                self._leg_expire(rid, p, "rolled_back", now)
            return self._existing(rid, header, digest)
        return self._create_header(
            rid, request.channel, digest, list(legs), ttl_ms, now, request.lines
        )

    def _reserve_atomic(
        self,
        rid: str,
        channel: Channel,
        digest: str,
        legs: dict[int, list[Line]],
        ttl_ms: int,
        now: int,
        lines: list[Line],
    ) -> ReserveOutcome:
        header = self.headers.get(rid)
        if header is not None:
            return self._existing(rid, header, digest)
        existing = {p: self.legs.get((p, rid)) for p in legs}
        if any(leg is not None and leg[LEG.digest] != digest for leg in existing.values()):
            return ReserveOutcome(ReserveResult.conflict)
        flat = [
            x
            for p, ls in legs.items()
            if existing[p] is None
            for x in self._leg_shortfalls(channel, ls)
        ]
        if flat:
            for p, leg in existing.items():
                if leg is not None and leg[LEG.state] == LegState.held:
                    self._leg_expire(rid, p, "rolled_back", now)
            short = [
                Shortfall(
                    str(flat[i]), str(flat[i + 1]), int(str(flat[i + 2])), int(str(flat[i + 3]))
                )
                for i in range(0, len(flat), 4)
            ]
            return ReserveOutcome(ReserveResult.insufficient, shortfalls=short)
        for p, ls in legs.items():
            if existing[p] is None:
                self._leg_hold(rid, digest, channel, p, ls, now + ttl_ms + LEG_EXPIRY_GRACE_MS, now)
        return self._create_header(rid, channel, digest, list(legs), ttl_ms, now, lines)

    def _existing(self, rid: str, header: Hash, digest: str) -> ReserveOutcome:
        if header[HEADER.state] == "aborted":
            return ReserveOutcome(ReserveResult.aborted, self.get(rid))
        if header[HEADER.digest] != digest:
            return ReserveOutcome(ReserveResult.conflict)
        return ReserveOutcome(ReserveResult.already_exists, self.get(rid))

    def _create_header(
        self,
        rid: str,
        channel: Channel,
        digest: str,
        parts: list[int],
        ttl_ms: int,
        now: int,
        lines: list[Line],
    ) -> ReserveOutcome:
        expires = now + ttl_ms
        header = Header("held", digest, channel.value, expires, now, ",".join(map(str, parts)))
        self.headers[rid] = as_dict(header_fields(header))
        self._home_expiry(rid)[f"h:{rid}"] = expires
        held = (header.digest, header.expires_ms, header.parts)
        self.ledger.emit_header(rid, "reservation_held", channel.value, now, held)
        lines_now = [
            LineStatus(ln.sku, ln.location, ln.qty, open=ln.qty) for ln in sorted_lines(lines)
        ]
        return ReserveOutcome(
            ReserveResult.reserved,
            Reservation(rid, channel, State.held, expires, lines_now),
            positions=[self.ledger.position(ln.sku, ln.location) for ln in sorted_lines(lines)],
        )

    def _read(self, rid: str) -> tuple[Hash, dict[int, Hash]]:
        header = self.headers.get(rid)
        if header is None:
            return {}, {}
        parts = partitions_of(header[HEADER.parts])
        return header, {p: self.legs[(p, rid)] for p in parts if (p, rid) in self.legs}

    def get(self, rid: str) -> Reservation | None:
        header, legs = self._read(rid)
        return reservation_from(rid, header, list(legs.values())) if header else None

    def _outcome(self, rid: str, result: TransitionResult) -> TransitionOutcome:
        return TransitionOutcome(result, self.get(rid))

    def commit(self, rid: str, now: int) -> TransitionOutcome:
        h = self.headers.get(rid)
        if h is None:
            return TransitionOutcome(TransitionResult.not_found)
        if self._past_deadline(h, now):
            self.expire(rid, now)
            return self._outcome(rid, TransitionResult.expired)
        state = h[HEADER.state]
        if state not in ("held", "committed"):
            return self._outcome(rid, TransitionResult.illegal)
        result = TransitionResult.duplicate if state == "committed" else TransitionResult.applied
        if result is TransitionResult.applied:
            h[HEADER.state] = "committed"
            self._home_expiry(rid).pop(f"h:{rid}", None)
            self.ledger.emit_header(rid, "reservation_committed", "committed", now)
        for p in partitions_of(h[HEADER.parts]):
            self._leg_commit(rid, p)
        return self._outcome(rid, result)

    def extend(self, rid: str, ttl_s: int, now: int) -> TransitionOutcome:
        h = self.headers.get(rid)
        if h is None:
            return TransitionOutcome(TransitionResult.not_found)
        if self._past_deadline(h, now):
            self.expire(rid, now)
            return self._outcome(rid, TransitionResult.expired)
        if h[HEADER.state] != "held":
            return self._outcome(rid, TransitionResult.illegal)
        expires = now + ttl_s * 1000
        h[HEADER.expires_ms] = str(expires)
        self._home_expiry(rid)[f"h:{rid}"] = expires
        self.ledger.emit_header(rid, "reservation_extended", str(expires), now)
        return self._outcome(rid, TransitionResult.applied)

    def expire(self, rid: str, now: int) -> list[object]:
        reply = self._header_expire(rid, now)
        finished = reply[0] == "applied" or (
            reply[0] == "noop" and reply[1] in ("expired", "aborted")
        )
        if finished:
            for p in partitions_of(str(reply[1] if reply[0] == "applied" else reply[2])):
                self._leg_expire(rid, p, "expired", now)
        return reply

    def settle(
        self, rid: str, action: str, lines: Sequence[Line] | None, op_id: str, now: int
    ) -> TransitionOutcome:
        if lines is not None:
            check_lines(lines)
        header, legs = self._read(rid)
        if not header:
            return TransitionOutcome(TransitionResult.not_found)
        refused, found, digest = decide_settle(rid, header, legs, action, lines, op_id)
        if refused is not None:
            return refused
        committed = header[HEADER.state] == "committed"
        replies = [
            self._leg_settle(rid, p, action, committed, ts, op_id, digest, now)
            for p, ts in found.items()
        ]
        after = self.get(rid)
        assert after is not None
        ended = after.state in (State.fulfilled, State.released)
        if ended and header[HEADER.state] in ("held", "committed"):
            header[HEADER.state] = after.state.value
            self._home_expiry(rid).pop(f"h:{rid}", None)
            self.ledger.emit_header(rid, f"reservation_{after.state.value}", after.state.value, now)
        failures = [r for r in replies if r not in ("applied", "duplicate")]
        if failures:
            return TransitionOutcome(TransitionResult(failures[0]), after)
        if replies and all(r == "duplicate" for r in replies):
            return TransitionOutcome(TransitionResult.duplicate, after)
        return TransitionOutcome(TransitionResult.applied, after)

    def _leg_settle(
        self,
        rid: str,
        p: int,
        action: str,
        committed: bool,
        targets: list[tuple[int, str, str, int]],
        op_id: str,
        digest: str,
        now: int,
    ) -> str:
        leg = self.legs.get((p, rid))
        if leg is None:
            return "not_found"
        if op_id:
            seen = leg.get(op_receipt(op_id))
            if seen == digest:
                return "duplicate"
            if seen is not None:
                return "op_conflict"
        state = leg[LEG.state]
        if state == LegState.held and committed:
            state = LegState.committed.value
        if state == LegState.closed and action == "released" and all(q == 0 for *_, q in targets):
            return "duplicate"
        releasing_held = action == "released" and state == LegState.held
        if state != LegState.committed and not releasing_held:
            return "illegal"
        plan = []
        for index, sku, loc, qty in targets:
            open_qty = int(leg[line_field(LINE.open, index)])
            qty = qty or open_qty
            if qty > open_qty:
                return "exceeds_open"
            if action == "fulfilled" and self.ledger.vector(sku, loc)[0] < qty:
                return "on_hand_short"
            plan.append((index, sku, loc, qty))
        for index, sku, loc, qty in plan:
            if qty == 0:
                continue
            before = self.ledger.vector(sku, loc)
            after = [
                before[0] - (qty if action == "fulfilled" else 0),
                before[1] - qty,
                before[2],
                before[3],
            ]
            self.ledger.write(sku, loc, before, after, now, action, action, rid, op_id)
            _add(leg, line_field(LINE.open, index), -qty)
            count = LINE.fulfilled if action == "fulfilled" else LINE.released
            _add(leg, line_field(count, index), qty)
        if op_id:
            leg[op_receipt(op_id)] = digest
        if all(line.open == 0 for line in leg_lines(leg)):
            state = LegState.closed.value
        if state != LegState.held:
            self.expiry[p].pop(f"l:{rid}", None)
        leg[LEG.state] = state
        return "applied"

    # -- re-sourcing (leg_move.lua) ------------------------------------------------------
    def move(
        self,
        rid: str,
        sku: str,
        source: str,
        target: str,
        qty: int,
        short_only: bool,
        op_id: str,
        now: int,
    ) -> list[object]:
        """Open units of a committed line to another location of the same sku."""
        p = keys.partition_of_sku(sku)
        leg = self.legs.get((p, rid))
        if leg is None:
            return ["not_found"]
        digest = f"move|{sku}|{source}|{target}|{qty}|{int(short_only)}"
        receipt = leg.get(op_receipt(op_id)) if op_id else None
        if receipt is not None:
            return ["duplicate"] if receipt == digest else ["op_conflict"]
        if leg[LEG.state] != LegState.committed:
            return ["illegal", leg[LEG.state]]
        lines = leg_lines(leg)
        src = next(
            (i for i, ln in enumerate(lines, 1) if (ln.sku, ln.location) == (sku, source)), 0
        )
        dst = next(
            (i for i, ln in enumerate(lines, 1) if (ln.sku, ln.location) == (sku, target)), 0
        )
        if not src:
            return ["no_line"]
        if qty > lines[src - 1].open:
            return ["exceeds_open", lines[src - 1].open]
        a, b = self.ledger.vector(sku, source), self.ledger.vector(sku, target)
        if short_only:
            if a[1] - a[0] <= 0:
                return ["not_short"]
            qty = min(qty, a[1] - a[0])
        available = b[0] - b[1] - (0 if leg[LEG.channel] == "store" else b[2])
        if qty > available:
            return ["insufficient", max(0, available)]
        if not dst and len(lines) >= LEG_LINES_MAX:
            return ["too_many_lines"]
        why = f"{source}>{target}"
        a_after, b_after = [a[0], a[1] - qty, a[2], a[3]], [b[0], b[1] + qty, b[2], b[3]]
        self.ledger.write(sku, source, a, a_after, now, "reservation_moved", why, rid, op_id)
        self.ledger.write(sku, target, b, b_after, now, "reservation_moved", why, rid, op_id)
        for prefix in (LINE.qty, LINE.open):
            _add(leg, line_field(prefix, src), -qty)
            if dst:
                _add(leg, line_field(prefix, dst), qty)
        if not dst:
            i = len(lines) + 1
            leg |= as_dict(line_fields(i, LineStatus(sku, target, qty, qty)))
            leg[LEG.lines] = str(i)
        if op_id:
            leg[op_receipt(op_id)] = digest
        return ["applied", qty]

    # -- sweeper -----------------------------------------------------------------------
    def sweep(self, now: int) -> int:
        expired = 0
        for p in range(LEDGER_PARTITIONS):
            due = sorted(
                (score, member) for member, score in self.expiry[p].items() if score <= now
            )
            for _, member in due:
                kind, rid = member.split(":", 1)
                if kind == "h":
                    expired += self.expire(rid, now)[0] == "applied"
                else:
                    self._resolve_leg(rid, p, now)
        return expired

    def _resolve_leg(self, rid: str, p: int, now: int) -> None:
        leg = self.legs.get((p, rid))
        if leg is None:
            self.expiry[p].pop(f"l:{rid}", None)
            return
        header = self.headers.get(rid)
        if header is None:
            tomb = Header("aborted", "", leg[LEG.channel], now, now, "")
            self.headers[rid] = as_dict(header_fields(tomb))
            self.ledger.emit_header(rid, "reservation_aborted", "coordinator_lost", now)
            header = self.headers[rid]
        state = header[HEADER.state]
        if state == "held":
            reply = self.expire(rid, now)
            if reply[0] == "not_due":
                self.expiry[p][f"l:{rid}"] = int(str(reply[1])) + LEG_EXPIRY_GRACE_MS
                return
            state = state_after_expire(reply)
        if state in ("committed", "fulfilled"):
            self._leg_commit(rid, p)
        else:
            self._leg_expire(rid, p, "expired", now)
