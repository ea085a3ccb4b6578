"""Every operation of the API, in the order routes match: the hot ones (holds, storefront
reads) first. api/app.py registers them and writes the OpenAPI document from them."""

from api.ops import Op
from api.routes_alerts import OPS as ALERTS
from api.routes_attention import OPS as ATTENTION
from api.routes_availability import OPS as AVAILABILITY
from api.routes_changes import OPS as CHANGES
from api.routes_customers import OPS as CUSTOMERS
from api.routes_devices import OPS as DEVICES
from api.routes_handoff import OPS as HANDOFF
from api.routes_history import OPS as HISTORY
from api.routes_keys import OPS as KEYS
from api.routes_kpis import OPS as KPIS
from api.routes_locations import OPS as LOCATIONS
from api.routes_orders import OPS as ORDERS
from api.routes_pickup import OPS as PICKUP
from api.routes_policies import OPS as POLICIES
from api.routes_prices import OPS as PRICES
from api.routes_registers import OPS as POS
from api.routes_reservations import OPS as RESERVATIONS
from api.routes_returns import OPS as RETURNS
from api.routes_routing import OPS as ROUTING
from api.routes_stock import OPS as STOCK
from api.routes_support import OPS as SUPPORT
from api.routes_transfers import OPS as TRANSFERS
from api.routes_webhooks import OPS as WEBHOOKS

OPS: list[Op] = [*RESERVATIONS, *AVAILABILITY, *STOCK, *POS, *DEVICES, *ROUTING, *ATTENTION, *KEYS]
OPS += HISTORY  # a position's history, from the journal
OPS += LOCATIONS  # the catalog's locations (GET /v1/locations)
OPS += ALERTS  # back-in-stock alerts: subscriptions, opens, figures
OPS += CHANGES  # the changes feed (SSE) and low-stock thresholds
OPS += WEBHOOKS  # webhook endpoints and their deliveries
OPS += [*ORDERS, *PICKUP, *RETURNS, *TRANSFERS, *HANDOFF]  # the order service (orders/)
OPS += [*POLICIES, *PRICES, *CUSTOMERS]  # policy texts, prices, customers (issue 15)
OPS += [*SUPPORT, *KPIS]  # order-aware support, the KPIs
