"""Why the order service refused a request, in terms the API turns into a problem (api/
routes_orders.py): a status, a slug, and the field it names."""

from typing import Any


class Refusal(Exception):
    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        field: str | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.field = field
        self.extensions = extensions


def bad_input(field: str, message: str) -> Refusal:
    return Refusal(422, "invalid-input", "Invalid input", f"{field}: {message}", field=field)


def not_found(order_id: str) -> Refusal:
    return Refusal(404, "order-not-found", "No such order", f"no order has the id {order_id}")
