from atp.model import StockResult
from engine.local import Engine


async def test_receipt_then_read(engine: Engine) -> None:
    outcome = await engine.stock.adjust("SKU-1", "S1", 4, "receipt")
    assert outcome.result is StockResult.applied
    assert (await engine.availability.position("SKU-1", "S1")).on_hand == 4
