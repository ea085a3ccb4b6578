"""Operation digests: what an op id's receipt remembers of the request it answered, so a
retry with the same op id and another request is ``op_conflict``. Written once here: the
stock writes compute them, and a rebuild (durability/restore_stock.py) recomputes them from the
journal to restore receipts."""


def adjust(sku: str, location: str, delta: int, reason: str) -> str:
    return f"adjust|{location}|{sku}|{delta}|{reason}"


def count(sku: str, location: str, on_hand: int, expected: int | str, reason: str) -> str:
    """``expected`` '' for an unconditional count."""
    return f"count|{location}|{sku}|{on_hand}|{expected}|{reason}"


def safety(sku: str, location: str, safety: int) -> str:
    return f"safety|{location}|{sku}|{safety}"


def receive(sku: str, location: str, supply_id: str, qty: int | str, reason: str) -> str:
    """``qty`` '' when the request named none (all the supply still expects)."""
    return f"receive|{location}|{sku}|{supply_id}|{qty}|{reason}"


def cancel(sku: str, location: str, supply_id: str) -> str:
    return f"cancel|{location}|{sku}|{supply_id}"


def redate(sku: str, location: str, supply_id: str, day: int | str) -> str:
    return f"redate|{location}|{sku}|{supply_id}|{day}"
