"""A route sample and the kinds of key the route table tries it with
(support/routes_table.py; each part of the order service adds its own samples)."""

from dataclasses import dataclass
from typing import Any

from api.auth import Scope

OK, DENIED, UNAUTHENTICATED = "ok", 403, 401

REGISTER = [
    Scope.availability_read,
    Scope.stock_write,
    Scope.reservations_write,
    Scope.orders_read,
    Scope.orders_write,
]
# kind -> (scopes, locations); channels are each kind's default (api/keystore.py).
KEY_KINDS: dict[str, tuple[list[Scope], list[str]]] = {
    "storefront": ([Scope.availability_read, Scope.reservations_write], []),
    "register_a": (REGISTER, ["S1"]),
    "register_b": (REGISTER, ["S2"]),
    "oms": (
        [Scope.availability_read, Scope.reservations_write, Scope.orders_read, Scope.orders_write],
        [],
    ),
    "admin": ([Scope.admin], []),
}
KINDS = ("none", "revoked", *KEY_KINDS)


@dataclass(frozen=True)
class Sample:
    params: dict[str, str]
    body: Any = None  # a dict, or a function of the key kind (a register holds on "store")
    query: str = ""
    # Expected for the kinds with a valid key; none and revoked are always 401.
    expect: dict[str, Any] | None = None

    def json(self, kind: str) -> Any:
        return self.body(kind) if callable(self.body) else self.body


def expect(**per_kind: Any) -> dict[str, Any]:
    """OK for every kind of key but those named."""
    every = dict.fromkeys(KEY_KINDS, OK)
    every.update(per_kind)
    return every
