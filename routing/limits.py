"""Every bound the router enforces, named once (the ledger's own live in atp/limits.py)."""

from typing import Final

from atp.limits import BATCH_LOCATIONS_MAX, ORDER_LINES_MAX

# An order routes as at most this many shipments: each one is a parcel, a pick and a fee.
SPLIT_SHIPMENTS_MAX: Final = 5
SPLIT_SHIPMENTS_DEFAULT: Final = 3
# Lines of one routed order (the reservation that follows holds them all in one call).
ROUTE_LINES_MAX: Final = ORDER_LINES_MAX
# Candidate locations the solver weighs for one order.
CANDIDATES_MAX: Final = 500
# Branch-and-bound nodes (subsets tried) per plan: bounds the worst-case latency. When it
# is reached the plan says so (proven_optimal false) and keeps the best found.
SEARCH_NODES_MAX: Final = 20_000
# When the search is cut, exchanges of one location tried to polish the best found.
IMPROVE_EVALS_MAX: Final = 2_000
# Rejected alternatives a plan explains.
ALTERNATIVES_MAX: Final = 3
# Single-shipment plans kept once priced: the best, and the next ones an explanation lists.
SINGLES_KEPT: Final = ALTERNATIVES_MAX + 1
# allocate(): plan, reserve; a race that empties a chosen location re-plans, knowing every
# position the refusal named short, at most this many attempts in all. A one-unit order
# over k stores loses at most k races (each at another store), so this many attempts
# serve such an order whenever stock is left at up to ALLOCATE_ATTEMPTS_MAX - 1 stores.
ALLOCATE_ATTEMPTS_MAX: Final = 6
# Before re-planning, a pause drawn from 0 to this x the attempt number (ms), at most
# ALLOCATE_BACKOFF_MS_MAX: the pauses of one allocate add up to 130 ms at worst.
ALLOCATE_BACKOFF_MS: Final = 10
ALLOCATE_BACKOFF_MS_MAX: Final = 30
NEARBY_RADIUS_KM_MAX: Final = 500.0
# Pick load: units allocated per location and day are kept this long (a day's hash and its
# reservation-id guard), long enough to read yesterday's figures after midnight.
PICKLOAD_RETENTION_S: Final = 2 * 24 * 3600
# A CapacityDirectory reads the day's pick load at most this often (ms): a plan in between
# uses the last figures (a stale read may over-promise a store's picks by what was
# allocated in the meantime; the ledger still never oversells stock).
PICKLOAD_CACHE_MS: Final = 250
# Reservation lines one pick-load update adds (an allocation holds at most this many).
PICKLOAD_LINES_MAX: Final = ORDER_LINES_MAX
# One availability read covers at most this many locations (atp's batch bound).
FETCH_LOCATIONS_MAX: Final = BATCH_LOCATIONS_MAX

assert 1 <= SPLIT_SHIPMENTS_DEFAULT <= SPLIT_SHIPMENTS_MAX
assert ALLOCATE_BACKOFF_MS <= ALLOCATE_BACKOFF_MS_MAX
assert ROUTE_LINES_MAX <= ORDER_LINES_MAX
