"""An order's lines: read for routing and delivery, and the units delivered (shipped or
picked up) filled in line by line."""

from typing import Any

from durability.db import Conn


async def line_rows(conn: Conn, order_id: str) -> list[Any]:
    return list(
        await conn.fetch(
            "SELECT line_no, sku, qty, unit_price, delivered FROM order_lines WHERE order_id = $1"
            " ORDER BY line_no",
            order_id,
        )
    )


async def deliver(conn: Conn, order_id: str, units: dict[str, int]) -> None:
    """Units of each SKU delivered (shipped or picked up), filling the order's lines in
    order."""
    for ln in await line_rows(conn, order_id):
        take = min(units.get(ln["sku"], 0), ln["qty"] - ln["delivered"])
        if take > 0:
            units[ln["sku"]] -= take
            await conn.execute(
                "UPDATE order_lines SET delivered = delivered + $3"
                " WHERE order_id = $1 AND line_no = $2",
                order_id,
                ln["line_no"],
                take,
            )
