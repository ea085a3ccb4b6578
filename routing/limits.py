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
# allocate(): plan, reserve; a race that empties a chosen location re-plans this often.
ALLOCATE_ATTEMPTS_MAX: Final = 3
# Before re-planning, a pause drawn from 0 to this x the attempt number (ms).
ALLOCATE_BACKOFF_MS: Final = 10
NEARBY_RADIUS_KM_MAX: Final = 500.0
# One availability read covers at most this many locations (atp's batch bound).
FETCH_LOCATIONS_MAX: Final = BATCH_LOCATIONS_MAX

assert 1 <= SPLIT_SHIPMENTS_DEFAULT <= SPLIT_SHIPMENTS_MAX
assert ROUTE_LINES_MAX <= ORDER_LINES_MAX
