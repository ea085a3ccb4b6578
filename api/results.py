"""The one table from the engine's result codes to HTTP: status, problem type, title.

Expected refusals are values (atp.model.StockResult, reservations.model.ReserveResult,
TransitionResult); only here do they become statuses. The OpenAPI document lists each
route's error statuses from this same table.
"""

import enum
from typing import Any

from api.problems import ApiError
from atp.model import StockResult
from reservations.model import ReserveResult, TransitionResult

Outcome = tuple[int, str, str]  # status, problem slug ('' = success), title

RESULTS: dict[enum.Enum, Outcome] = {
    StockResult.applied: (200, "", ""),
    StockResult.duplicate: (200, "", ""),
    StockResult.op_conflict: (422, "idempotency-key-reused", "Idempotency key reused"),
    StockResult.negative_on_hand: (409, "negative-on-hand", "On hand would go negative"),
    StockResult.over_limit: (409, "over-limit", "On hand would pass its limit"),
    StockResult.expected_mismatch: (409, "expected-mismatch", "On hand is not as expected"),
    StockResult.supply_conflict: (409, "supply-conflict", "Supply id used with other values"),
    StockResult.supply_not_found: (404, "supply-not-found", "No such supply"),
    StockResult.too_many_supplies: (409, "too-many-supplies", "Too many incoming supplies"),
    ReserveResult.reserved: (201, "", ""),
    ReserveResult.already_exists: (200, "", ""),
    ReserveResult.conflict: (409, "reservation-conflict", "Reservation id used with another body"),
    ReserveResult.insufficient: (409, "insufficient", "Insufficient availability"),
    ReserveResult.aborted: (409, "reservation-aborted", "Reservation attempt was abandoned"),
    TransitionResult.applied: (200, "", ""),
    TransitionResult.duplicate: (200, "", ""),
    TransitionResult.not_found: (404, "reservation-not-found", "No such reservation"),
    TransitionResult.expired: (409, "reservation-expired", "Reservation expired"),
    TransitionResult.illegal: (409, "illegal-transition", "Not allowed in this state"),
    TransitionResult.exceeds_open: (409, "exceeds-open", "More than is still reserved"),
    TransitionResult.unknown_line: (422, "unknown-line", "No such line in the reservation"),
    TransitionResult.on_hand_short: (409, "on-hand-short", "Not enough on hand to fulfill"),
    TransitionResult.op_conflict: (422, "idempotency-key-reused", "Idempotency key reused"),
}


def success_status(result: enum.Enum) -> int | None:
    status, slug, _ = RESULTS[result]
    return None if slug else status


def refusal(result: enum.Enum, detail: str, **extensions: Any) -> ApiError:
    status, slug, title = RESULTS[result]
    return ApiError(status, slug, title, detail or title, **extensions)


def error_statuses(kind: type[enum.Enum]) -> set[int]:
    return {RESULTS[r][0] for r in kind if RESULTS[r][1]}


assert all(r in RESULTS for k in (StockResult, ReserveResult, TransitionResult) for r in k)
