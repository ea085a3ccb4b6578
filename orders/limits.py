"""The order service's named limits and defaults."""

from typing import Final

ORDER_HOLD_TTL_S_DEFAULT: Final = 1800  # an order not paid within this is released
ORDERS_LISTED_MAX: Final = 200  # one page of GET /v1/orders
BAY_LENGTH_MAX: Final = 32  # a curbside bay's label
CARRIER_LENGTH_MAX: Final = 64
TRACKING_LENGTH_MAX: Final = 128
CUSTOMER_FIELD_LENGTH_MAX: Final = 200  # a name, email or phone as given
POSTCODE_LENGTH_MAX: Final = 16
