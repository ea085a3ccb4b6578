"""What the locust flows act on, from ATP_BENCH_* variables (bench/http/locustfile.py).

The defaults are the positions ``python -m bench.http`` seeds (B-000..B-099 at W1 and S1);
the order, pickup, return and alert flows need a catalog with pickup stores (the demo's
ST-001.., or the test's world) and are off unless their weight is set.
"""

import itertools
import os
import uuid

CLASSES = ("storefront", "shopper", "associate", "returner", "alert_signup", "change_listener")
DEFAULT_WEIGHTS = {"storefront": 1}  # the documented command runs the reads mix alone


def _env(name: str, default: str) -> str:
    return os.environ.get(f"ATP_BENCH_{name}", default)


def weight(user_class: str) -> int:
    """ATP_BENCH_WEIGHT_<CLASS>: its share of the users; 0 leaves the class out."""
    return int(_env(f"WEIGHT_{user_class.upper()}", str(DEFAULT_WEIGHTS.get(user_class, 0))))


def key(role: str) -> str:
    """ATP_BENCH_KEY_<ROLE> when given, else ATP_BENCH_KEY (an admin key serves every role)."""
    return _env(f"KEY_{role.upper()}", "") or _env("KEY", "")


PREFIX = _env("SKU_PREFIX", "B-")
DIGITS = int(_env("SKU_DIGITS", "3"))
FIRST = int(_env("SKU_FIRST", "0"))  # the demo ranks its SKUs from 1
COUNT = int(_env("SKUS", "100"))
SKUS = [f"{PREFIX}{i:0{DIGITS}d}" for i in range(FIRST, FIRST + COUNT)]
LOCATIONS = _env("LOCATIONS", "W1,S1").split(",")
# Stores that take pickup orders and returns; the associates work their queues.
STORES = _env("STORES", "ST-001,ST-002,ST-003").split(",")
_lat, _lon = _env("SHIP_TO", "59.91,10.75").split(",")
SHIP_TO = {"lat": float(_lat), "lon": float(_lon)}
PICKUP_SHARE = float(_env("PICKUP_SHARE", "0.5"))  # of the shoppers' orders
ORDER_LINES_MAX = 2
CHANGES_QUERY = _env("CHANGES_QUERY", "")  # e.g. types=adjusted&location=ST-001
CHANGES_STREAM_S = float(_env("CHANGES_STREAM_S", "60"))  # a listener reconnects after this
REQUEST_TIMEOUT_S = 30.0

RUN = uuid.uuid4().hex[:8]  # ids differ between runs: a reused id answers the first order
_ids = itertools.count()


def new_id(kind: str) -> str:
    return f"{kind}-{RUN}-{next(_ids)}"
