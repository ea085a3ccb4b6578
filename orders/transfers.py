"""Transfers between locations: the units leave the sender's on hand and are counted as
dated incoming at the receiver until received there (partly or at once); a cancellation
sends what is still in transit back.

Each step that writes the ledger is begun in the row first (pending_step), then written
under ledger ids derived from the transfer (orders/transfer_rules.py), made durable, then
recorded with a conditional update. A process dying in between leaves the step begun:
``resume_stale`` (the recovery sweep), or the next request on the same transfer, runs it
again, and the ledger's op ids make the second run a no-op where the first one landed."""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import msgspec

from atp.model import AdjustReason, InvalidInput, StockResult
from catalog.known import unknown_ids
from durability.db import Queryable
from durability.group_commit import Durability, acknowledged
from engine.protocol import LedgerEngine
from orders import transfer_rules as rules
from orders import transfer_store as store
from orders.transfer_rules import Spec, Step, TransferResult, TransferState
from orders.transfer_store import Transfer

log = logging.getLogger(__name__)
R = TypeVar("R")


class TransferOutcome(msgspec.Struct, frozen=True):
    result: TransferResult
    transfer: Transfer | None = None
    detail: str = ""
    units: int | None = None  # available at the sender, or still in transit, when short


@dataclass(frozen=True)
class Transfers:
    pool: asyncpg.Pool
    engine: LedgerEngine
    durability: Durability

    async def _ledger(self, write: Callable[[], Awaitable[R]]) -> R:
        # Durable before the row records the step done: the row never runs ahead of it.
        return await acknowledged(self.durability, write)

    async def _answer(
        self, result: TransferResult, transfer_id: str, detail: str = ""
    ) -> TransferOutcome:
        row = await store.fetch(self.pool, transfer_id)
        return TransferOutcome(result, None if row is None else store.of(row), detail)

    async def get(self, transfer_id: str) -> Transfer | None:
        row = await store.fetch(self.pool, transfer_id)
        return None if row is None else store.of(row)

    async def _check(self, spec: Spec) -> None:
        wrong = rules.check_spec(spec)
        if wrong is not None:
            raise InvalidInput(*wrong)
        places = [spec.from_location, spec.to_location]
        for name, unknown in zip(("from", "to"), places, strict=True):
            if await unknown_ids(self.pool, "location", [unknown]):
                raise InvalidInput(name, f"{unknown} is not a location in the catalog")
        if await unknown_ids(self.pool, "sku", [spec.sku]):
            raise InvalidInput("sku", f"{spec.sku} is not a SKU in the catalog")

    async def create(self, spec: Spec, created_by: str) -> TransferOutcome:
        await self._check(spec)
        for _ in range(rules.STEP_ATTEMPTS_MAX):
            row = await store.fetch(self.pool, spec.id)
            if row is not None:
                return await self._again(spec, row)
            sender = await self.engine.availability.position(spec.sku, spec.from_location)
            available = rules.shortfall(spec, sender)
            if available is not None:  # refused before anything is stored
                return _short(spec, available)
            if await store.insert(self.pool, spec, created_by):
                row = await store.fetch(self.pool, spec.id)
                assert row is not None
                return await self._ship(self.pool, row)
        return TransferOutcome(TransferResult.busy)

    async def _again(self, spec: Spec, row: asyncpg.Record) -> TransferOutcome:
        """The id is taken: the same body answers the transfer (finishing its begun step)."""
        if row["digest"] != spec.digest():
            return TransferOutcome(TransferResult.id_conflict, store.of(row))
        if row["pending_step"] in (Step.ship, Step.unship):
            return await self._finish(self.pool, row)
        found = store.of(row)
        if found.refusal is not None and found.shipped_at is None:
            return _refused(found)
        return TransferOutcome(TransferResult.exists, found)

    async def receive(
        self, transfer_id: str, receipt_id: str, qty: int | None = None
    ) -> TransferOutcome:
        for _ in range(rules.STEP_ATTEMPTS_MAX):
            row = await store.fetch(self.pool, transfer_id)
            if row is None:
                return TransferOutcome(TransferResult.not_found)
            if row["pending_step"] is not None:
                await self._finish(self.pool, row)
                continue
            receipts = store.notes(row).get("receipts", {})
            result, units = rules.check_receipt(
                row["qty"], row["received"], receipts, receipt_id, qty
            )
            settled = result in (TransferResult.duplicate, TransferResult.receipt_conflict)
            if not settled and row["state"] != TransferState.in_transit:
                result = TransferResult.closed
            if result is not TransferResult.applied:
                return TransferOutcome(result, store.of(row), units=units)
            step = {"step": {"receipt_id": receipt_id, "qty": units}}
            if await self._begin(row, Step.receive, step):
                return await self._finish(self.pool, await self._row(transfer_id))
        return TransferOutcome(TransferResult.busy)

    async def cancel(self, transfer_id: str) -> TransferOutcome:
        for _ in range(rules.STEP_ATTEMPTS_MAX):
            row = await store.fetch(self.pool, transfer_id)
            if row is None:
                return TransferOutcome(TransferResult.not_found)
            if row["pending_step"] is not None:
                await self._finish(self.pool, row)
                continue
            if row["state"] == TransferState.cancelled:
                return TransferOutcome(TransferResult.duplicate, store.of(row))
            if row["state"] != TransferState.in_transit:
                return TransferOutcome(TransferResult.closed, store.of(row))
            if await self._begin(row, Step.cancel, {"step": {}}):
                return await self._finish(self.pool, await self._row(transfer_id))
        return TransferOutcome(TransferResult.busy)

    async def _row(self, transfer_id: str) -> asyncpg.Record:
        row = await store.fetch(self.pool, transfer_id)
        assert row is not None  # a begun row is never deleted but by its ship step
        return row

    async def _begin(self, row: asyncpg.Record, step: Step, detail: dict[str, Any]) -> bool:
        status = await self.pool.execute(
            store.BEGIN,
            row["id"],
            step.value,
            store.json(detail),
            row["pending_step"],
            row["state"],
            row["received"],
        )
        return bool(status == "UPDATE 1")

    async def _finish(self, db: Queryable, row: asyncpg.Record) -> TransferOutcome:
        """Runs a begun step (again): what a request, a retry or the sweep does alike."""
        step = Step(row["pending_step"])
        if step is Step.ship:
            return await self._ship(db, row)
        if step is Step.unship:
            return await self._unship(db, row)
        if step is Step.receive:
            return await self._receive(db, row)
        return await self._cancel(db, row)

    async def _ship(self, db: Queryable, row: asyncpg.Record) -> TransferOutcome:
        tid, sku, qty = row["id"], row["sku"], row["qty"]
        stock = self.engine.stock
        out = await self._ledger(
            lambda: stock.adjust(
                sku, row["from_location"], -qty, AdjustReason.transfer_out, rules.out_op(tid)
            )
        )
        if not out.ok:  # nothing left the sender: nothing stays
            await db.execute(store.REFUSED, tid)
            if out.result is StockResult.negative_on_hand:
                spec = Spec(
                    tid, sku, row["from_location"], row["to_location"], qty, row["expected_on"]
                )
                return _short(spec, max(0, out.position.on_hand))
            return TransferOutcome(TransferResult.refused, None, out.result.value)
        incoming = await self._ledger(
            lambda: stock.add_incoming(
                sku, row["to_location"], rules.supply_id(tid), qty, row["expected_on"]
            )
        )
        if not incoming.ok:  # the receiver cannot count it (too many supplies): undo
            refusal: dict[str, Any] = {"step": {}, "refusal": incoming.result.value}
            await db.execute(
                store.BEGIN, tid, Step.unship.value, store.json(refusal), "ship", "pending", 0
            )  # not begun here: another run began it; finishing it again is harmless
            return await self._unship(db, row)
        await db.execute(store.SHIPPED, tid)
        return await self._answer(TransferResult.created, tid)

    async def _unship(self, db: Queryable, row: asyncpg.Record) -> TransferOutcome:
        tid = row["id"]
        back = await self._ledger(
            lambda: self.engine.stock.adjust(
                row["sku"],
                row["from_location"],
                row["qty"],
                AdjustReason.transfer_in,
                rules.undo_op(tid),
            )
        )
        if not back.ok:  # left begun: the sweep tries again, an operator sees it stuck
            raise RuntimeError(f"transfer {tid}: giving back refused ({back.result})")
        await db.execute(store.CANCELLED, tid, store.json({"returned": row["qty"]}))
        found = store.of(await self._row(tid))
        return _refused(found)

    async def _receive(self, db: Queryable, row: asyncpg.Record) -> TransferOutcome:
        tid, step = row["id"], store.notes(row)["step"]
        receipt_id, units = step["receipt_id"], step["qty"]
        outcome = await self._ledger(
            lambda: self.engine.stock.receive_incoming(
                row["sku"],
                row["to_location"],
                rules.supply_id(tid),
                units,
                op_id=rules.receipt_op(tid, receipt_id),
            )
        )
        if not outcome.ok:  # its supply went some other way (received or cancelled directly)
            await db.execute(store.DROPPED, tid)
            why = f"its supply at {row['to_location']} went another way ({outcome.result})"
            return await self._answer(TransferResult.refused, tid, detail=why)
        await db.execute(store.RECEIVED, tid, units, receipt_id)
        return await self._answer(TransferResult.applied, tid)

    async def _cancel(self, db: Queryable, row: asyncpg.Record) -> TransferOutcome:
        """What is still incoming at the receiver goes back to the sender: as much as the
        ledger's supply still held (what the receiver took in some other way stays)."""
        tid, sku = row["id"], row["sku"]
        stock = self.engine.stock
        retired = await self._ledger(
            lambda: stock.cancel_incoming(
                sku, row["to_location"], rules.supply_id(tid), op_id=rules.cancel_op(tid)
            )
        )
        back = retired.retired if retired.ok else 0
        if back > 0:
            given = await self._ledger(
                lambda: stock.adjust(
                    sku, row["from_location"], back, AdjustReason.transfer_in, rules.back_op(tid)
                )
            )
            if not given.ok:  # left begun: the sweep tries again, an operator sees it stuck
                raise RuntimeError(f"transfer {tid}: giving back refused ({given.result})")
        await db.execute(store.CANCELLED, tid, store.json({"returned": back}))
        return await self._answer(TransferResult.applied, tid)


def _refused(found: Transfer) -> TransferOutcome:
    detail = f"{found.to} cannot count it as incoming ({found.refusal}): its units stayed"
    return TransferOutcome(TransferResult.refused, found, detail)


def _short(spec: Spec, available: int) -> TransferOutcome:
    detail = f"{available} available at {spec.from_location}, {spec.qty} asked"
    return TransferOutcome(TransferResult.insufficient, None, detail, available)


async def resume_stale(
    pool: asyncpg.Pool, engine: LedgerEngine, durability: Durability, older_than_s: float
) -> int:
    """Finishes every step begun longer than ``older_than_s`` ago (its process died, or is
    slow: the ledger's op ids make running it twice harmless); returns how many. A row is
    taken under FOR UPDATE SKIP LOCKED, so two sweeps never run the same one."""
    service = Transfers(pool, engine, durability)
    stale = await pool.fetch(store.STALE, older_than_s, rules.RESUME_BATCH_MAX)
    finished = 0
    for found in stale:
        row = await pool.fetchrow(store.TAKE, found["id"], older_than_s)
        if row is None:  # finished meanwhile, or another sweep took it
            continue
        outcome = await service._finish(pool, row)
        log.info("resumed transfer %s: %s", row["id"], outcome.result)
        finished += 1
    return finished
