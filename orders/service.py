"""The order service: placing, paying, the store's pickup work and shipping, each in its
own module on one core (orders/core.py says how every step keeps an order and its hold
in agreement)."""

from orders.paying import Paying
from orders.pickup_work import PickupWork
from orders.placing import Draft, Placing
from orders.shipping import NewShipment, Shipping


class Orders(Placing, Paying, PickupWork, Shipping):
    """The order service: each part in its own module, on one shared core
    (orders/core.py)."""


__all__ = ["Draft", "NewShipment", "Orders"]
