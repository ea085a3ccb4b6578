"""Bad input is refused with a typed error naming the field, and the ledger is unchanged."""

from collections.abc import Awaitable, Callable
from datetime import date

import pytest

from atp.limits import (
    BATCH_POSITIONS_MAX,
    BATCH_SKUS_MAX,
    ID_LENGTH_MAX,
    LINE_QTY_MAX,
    ORDER_LINES_MAX,
    QTY_MAX,
    RESERVATION_TTL_S_MAX,
)
from atp.model import InvalidInput, Position
from engine.local import Engine
from reservations.model import Line, ReserveResult

Call = Callable[[Engine], Awaitable[object]]


async def _snapshot(engine: Engine) -> dict[str, object]:
    """Every key with its type and content: what 'unchanged' means."""
    snapshot: dict[str, object] = {}
    for key in await engine.redis.command("KEYS", "*"):
        kind = await engine.redis.command("TYPE", key)
        reader = {"hash": "HGETALL", "zset": "ZRANGE", "stream": "XLEN", "set": "SMEMBERS"}[kind]
        args = (key, 0, -1, "WITHSCORES") if kind == "zset" else (key,)
        snapshot[key] = await engine.redis.command(reader, *args)
    return snapshot


def _reserve(
    lines: object, ttl: object = 60, channel: object = "online", rid: object = "r1"
) -> Call:
    return lambda e: e.reservations.reserve(rid, channel, lines, ttl)  # type: ignore[arg-type]


ok_line = Line("SKU-1", "S1", 1)
BAD_CALLS: dict[str, tuple[str, Call]] = {
    "qty zero": ("lines[0].qty", _reserve([Line("SKU-1", "S1", 0)])),
    "qty negative": ("lines[0].qty", _reserve([Line("SKU-1", "S1", -2)])),
    "qty not an integer": ("lines[0].qty", _reserve([Line("SKU-1", "S1", 1.5)])),  # type: ignore[arg-type]
    "qty a string": ("lines[0].qty", _reserve([Line("SKU-1", "S1", "3")])),  # type: ignore[arg-type]
    "qty a bool": ("lines[0].qty", _reserve([Line("SKU-1", "S1", True)])),
    "qty huge": ("lines[0].qty", _reserve([Line("SKU-1", "S1", LINE_QTY_MAX + 1)])),
    "no lines": ("lines", _reserve([])),
    "lines not a list": ("lines", _reserve("SKU-1")),
    "too many lines": (
        "lines",
        _reserve([Line(f"S{i}", "S1", 1) for i in range(ORDER_LINES_MAX + 1)]),
    ),
    "duplicate lines": ("lines[1]", _reserve([ok_line, Line("SKU-1", "S1", 2)])),
    "ttl zero": ("ttl_s", _reserve([ok_line], ttl=0)),
    "ttl negative": ("ttl_s", _reserve([ok_line], ttl=-5)),
    "ttl absurd": ("ttl_s", _reserve([ok_line], ttl=RESERVATION_TTL_S_MAX + 1)),
    "ttl fractional": ("ttl_s", _reserve([ok_line], ttl=1.5)),
    "unknown channel": ("channel", _reserve([ok_line], channel="fax")),
    "empty id": ("id", _reserve([ok_line], rid="")),
    "id with a hash tag": ("id", _reserve([ok_line], rid="a{p01}")),
    "id too long": ("id", _reserve([ok_line], rid="r" * (ID_LENGTH_MAX + 1))),
    "sku with a space": ("lines[0].sku", _reserve([Line("SKU 1", "S1", 1)])),
    "location with a colon": ("lines[0].location", _reserve([Line("SKU-1", "S:1", 1)])),
    "adjust by zero": ("delta", lambda e: e.stock.adjust("SKU-1", "S1", 0, "receipt")),
    "receipt taking stock": ("delta", lambda e: e.stock.adjust("SKU-1", "S1", -1, "receipt")),
    "sale adding stock": ("delta", lambda e: e.stock.adjust("SKU-1", "S1", 1, "sale")),
    "unknown reason": ("reason", lambda e: e.stock.adjust("SKU-1", "S1", 1, "gift")),
    "huge delta": ("delta", lambda e: e.stock.adjust("SKU-1", "S1", QTY_MAX + 1, "receipt")),
    "negative count": ("on_hand", lambda e: e.stock.set_on_hand("SKU-1", "S1", -1)),
    "negative expected": (
        "expected_on_hand",
        lambda e: e.stock.set_on_hand("SKU-1", "S1", 1, expected_on_hand=-1),
    ),
    "negative safety": ("safety", lambda e: e.stock.set_safety("SKU-1", "S1", -3)),
    "incoming qty zero": (
        "qty",
        lambda e: e.stock.add_incoming("SKU-1", "S1", "po-1", 0, date(2030, 1, 1)),
    ),
    "incoming date a string": (
        "expected_on",
        lambda e: e.stock.add_incoming("SKU-1", "S1", "po-1", 1, "soon"),
    ),  # type: ignore[arg-type]
    "batch too many skus": (
        "skus",
        lambda e: e.availability.positions([f"K{i}" for i in range(BATCH_SKUS_MAX + 1)], ["S1"]),
    ),
    "batch too many positions": (
        "skus",
        lambda e: e.availability.positions(
            [f"K{i}" for i in range(BATCH_SKUS_MAX)],
            [f"L{i}" for i in range(BATCH_POSITIONS_MAX // BATCH_SKUS_MAX + 1)],
        ),
    ),
    "batch repeats a sku": ("skus", lambda e: e.availability.positions(["A", "A"], ["S1"])),
    "promise qty zero": (
        "qty",
        lambda e: e.availability.promise("SKU-1", 0, ["S1"], "online", date.today()),
    ),  # type: ignore[arg-type]
    "unknown group": ("group", lambda e: e.availability.group("SKU-1", "nowhere", "online")),  # type: ignore[arg-type]
    "partial release repeats a line": (
        "lines[1]",
        lambda e: e.reservations.release("held-1", [ok_line, ok_line]),
    ),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
async def test_bad_input_is_a_typed_error_and_changes_nothing(engine: Engine, case: str) -> None:
    await engine.stock.adjust("SKU-1", "S1", 5, "receipt")
    await engine.stock.set_safety("SKU-1", "S1", 1)
    assert (await engine.reservations.reserve("held-1", "online", [ok_line], 60)).ok
    before = await _snapshot(engine)
    field, call = BAD_CALLS[case]
    with pytest.raises(InvalidInput) as refused:
        await call(engine)
    assert refused.value.field == field
    assert await _snapshot(engine) == before


async def test_unknown_sku_or_location_reads_as_zero_and_cannot_be_reserved(engine: Engine) -> None:
    """Policy: the ledger has no catalog; a position never written holds nothing."""
    assert await engine.availability.position("NEVER-SEEN", "NOWHERE") == Position(
        "NEVER-SEEN", "NOWHERE"
    )
    before = await _snapshot(engine)
    outcome = await engine.reservations.reserve(
        "r-unknown", "store", [Line("NEVER-SEEN", "NOWHERE", 1)], 60
    )
    assert outcome.result is ReserveResult.insufficient
    assert outcome.shortfalls[0].available == 0
    assert await _snapshot(engine) == before


def test_the_api_names_every_bad_field_of_a_hold_as_the_engine_does() -> None:
    """The HTTP API reports each failing field of a body at once, named as the engine
    names it (``lines[i].field``), the id rule in the engine's words."""
    import msgspec

    from api import codec
    from api.problems import ApiError
    from api.schemas_res import ReserveBody
    from atp.validate import ID_RULE

    line = {"sku": "SKU 1", "location": "S:1", "qty": 0}
    body = {"channel": "fax", "lines": [{"sku": "SKU-1", "location": "S1", "qty": 1}, line]}
    with pytest.raises(ApiError) as refused:
        codec.decode(msgspec.json.encode({**body, "id": "a{p01}"}), ReserveBody)
    errors = refused.value.errors or []
    engine_fields = [BAD_CALLS[case][0] for case in ("sku with a space", "location with a colon")]
    assert [e.field for e in errors] == [
        "channel",
        *(f.replace("[0]", "[1]") for f in engine_fields),
        "lines[1].qty",
        "id",
    ]
    assert [e.message for e in errors][1:3] == [ID_RULE, ID_RULE]
    assert refused.value.status == 422 and refused.value.slug == "invalid-input"


def test_a_valid_body_never_takes_the_slow_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk naming every failing field runs only after a decode has failed."""
    from api import codec, problems
    from api.schemas_res import ReserveBody

    def refuse(*args: object) -> None:
        raise AssertionError("walked a valid body")

    monkeypatch.setattr(problems, "field_errors", refuse)
    raw = b'{"channel": "online", "lines": [{"sku": "SKU-1", "location": "S1", "qty": 1}]}'
    assert codec.decode(raw, ReserveBody).lines[0].qty == 1
    with pytest.raises(AssertionError, match="walked"):  # the walk is the patched one
        codec.decode(raw.replace(b"1}", b"0}"), ReserveBody)
