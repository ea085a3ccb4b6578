"""The KPIs recomputed from the day's log (simulation/log.py) with the formulas the engine
uses (orders/kpi_formulas.py: one definition), from what the engine answered each simulated
person rather than from its tables. simulation/checks.py compares them with GET /v1/kpis."""

import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from orders import kpi_formulas as f
from simulation.log import DayLog, Json

NOT_SALES = ("pending", "cancelled", "expired")
BOPIS = ("pickup", "curbside")
REGISTER_CHANNEL = "store"  # orders/kpis.py: registers sell on the store channel


def _t(raw: Any) -> dt.datetime | None:
    return None if raw is None else dt.datetime.fromisoformat(raw)


def _when(raw: str) -> dt.datetime:
    return dt.datetime.fromisoformat(raw)


def _sales(log: DayLog, since: dt.datetime, until: dt.datetime) -> list[Json]:
    found = []
    for o in log.orders.values():
        received = _t(o["order_received_at"])
        state = "expired" if o["id"] in log.abandoned else o["state"]
        if received is not None and since <= received < until and state not in NOT_SALES:
            found.append(o)
    return found


def _store(o: Json) -> str | None:
    return o.get("location") or (o["shipments"][0]["location"] if o["shipments"] else None)


def _pickup(sales: list[Json], now: dt.datetime) -> f.Figure:
    bopis = [o for o in sales if o["method"] in BOPIS and o.get("promised_at")]
    ready = [o for o in bopis if o.get("ready_at")]
    on_time = sum(1 for o in ready if _when(o["ready_at"]) <= _when(o["promised_at"]))
    late = sum(1 for o in bopis if not o.get("ready_at") and _when(o["promised_at"]) < now)
    return f.pickup_on_time(on_time, len(ready), late)


def _stage(sales: list[Json]) -> f.Figure:
    took = [
        _when(o["staged_at"]) - _when(o["order_received_at"])
        for o in sales
        if o["method"] in BOPIS
        and o.get("staged_at")
        and len(o["lines"]) == 1
        and o["lines"][0]["qty"] == 1
    ]
    return f.median_minutes(f.STAGE_TIME, took)


def _refunds(log: DayLog, since: dt.datetime, until: dt.datetime) -> f.Figure:
    took = []
    for r in log.returns.values():
        received, refunded = _t(r.get("return_received_at")), _t(r.get("refund_initiated_at"))
        if received is not None and refunded is not None and since <= received < until:
            took.append(refunded - received)
    return f.median_minutes(f.REFUND_LATENCY, took)


def _first_contact(log: DayLog, since: dt.datetime, until: dt.datetime) -> f.Figure:
    resolved = [
        t
        for t in log.tickets.values()
        if t.get("resolved_at") and since <= _when(t["opened_at"]) < until
    ]
    single = 0
    for t in resolved:
        replies = t["replies"]
        agents = [i for i, r in enumerate(replies) if r["author"] == "agent"]
        after = [r for r in replies[agents[0] + 1 :] if r["author"] == "customer"] if agents else []
        single += len(agents) == 1 and not after
    return f.first_contact_resolution((single, len(resolved)))


def _converted(log: DayLog, order: Json, window: dt.timedelta) -> str | None:
    """The send an order converts, as alerts/conversions.py attributes it: the send it
    names, else the newest send to its email for one of its SKUs, either within the window
    before the order (a resend's time counts)."""
    at = _when(order["order_received_at"])

    def within(s: Json) -> bool:
        return (
            _when(s["sent_at"]) <= at and _when(s.get("resent_at") or s["sent_at"]) >= at - window
        )

    named = log.sends.get(log.conversions.get(order["id"], ""))
    if named is not None and within(named):
        return str(named["send_id"])
    email, skus = order["customer"].get("email"), {ln["sku"] for ln in order["lines"]}
    found = [
        s
        for s in log.sends.values()
        if s.get("contact", {}).get("email") == email and s["sku"] in skus and within(s)
    ]
    if not found:
        return None
    newest = min(found, key=lambda s: (-_when(s.get("resent_at") or s["sent_at"]).timestamp(),
                                       s["send_id"]))  # fmt: skip
    return str(newest["send_id"])


def _alerts(log: DayLog, since: dt.datetime, until: dt.datetime) -> f.Figure:
    window = dt.timedelta(hours=f.ALERT_WINDOW_HOURS)
    sends = {
        s["send_id"]: _when(s["sent_at"])
        for s in log.sends.values()
        if since <= _when(s["sent_at"]) < until
    }
    converted = 0
    for order in log.orders.values():  # every order placed, paid or not, counts once
        sent = sends.get(_converted(log, order, window) or "")
        if sent is not None:
            converted += _when(order["order_received_at"]) <= sent + window
    return f.share(f.BACK_IN_STOCK, converted, len(sends))


def _repeat(log: DayLog, since: dt.datetime, until: dt.datetime) -> f.Figure:
    by_customer: dict[int, list[dt.datetime]] = defaultdict(list)
    everything = _sales(
        log, dt.datetime.min.replace(tzinfo=dt.UTC), dt.datetime.max.replace(tzinfo=dt.UTC)
    )
    for o in everything:  # the shopper's number: cust-N online, shopperN@ at a register
        by_customer[int(o["customer"]["id"].removeprefix("cust-"))].append(
            _when(o["order_received_at"])
        )
    for sale in log.sold():  # the engine joins a walk-in's email to their online id
        if sale.shopper is not None:
            by_customer[sale.shopper].append(sale.at)
    cohort = []
    for times in by_customer.values():
        times.sort()
        if since <= times[0] < until:
            cohort.append((times[0], times[1] if len(times) > 1 else None))
    return f.share(f.REPEAT_PURCHASE, f.returning(cohort), len(cohort))


def kpis(log: DayLog, since: dt.datetime, until: dt.datetime, now: dt.datetime) -> list[f.Figure]:
    sales = _sales(log, since, until)
    surfaces = sum(
        1 for s, v in log.surfaces.items() if v != log.policy_versions[log.surface_policy[s]]
    )
    return [
        _pickup(sales, now),
        _stage(sales),
        _refunds(log, since, until),
        _first_contact(log, since, until),
        _alerts(log, since, until),
        f.policy_defects(surfaces, log.price_mismatches),
        _repeat(log, since, until),
    ]


def _oversells(log: DayLog, since: dt.datetime, until: dt.datetime) -> Counter[str]:
    return Counter(s.store for s in log.sold() if s.oversold > 0 and since <= s.at < until)


def breakdowns(log: DayLog, since: dt.datetime, until: dt.datetime, key: str) -> list[f.Breakdown]:
    """Per store (``key`` "location") or per channel, as orders/kpis.py groups them."""
    returned: Counter[str] = Counter()
    for r in log.returns.values():
        if r.get("return_received_at"):
            returned[r["order_id"]] += sum(ln["qty"] for ln in r["lines"])
    groups: dict[str, list[Json]] = defaultdict(list)
    for o in _sales(log, since, until):
        where = _store(o) if key == "location" else o["channel"]
        if where is not None:
            groups[where].append(o)
    sold: dict[str, list[Decimal]] = defaultdict(list)  # register sales, one sale each
    for sale in log.sold():
        if since <= sale.at < until:
            where = sale.store if key == "location" else REGISTER_CHANNEL
            sold[where].append(Decimal(sale.unit_price) * sale.qty)
    oversells = _oversells(log, since, until)
    if key != "location":
        oversells = Counter({REGISTER_CHANNEL: sum(oversells.values())})
    found = []
    for where in sorted(groups.keys() | sold.keys() | {k for k, v in oversells.items() if v}):
        orders = groups.get(where, [])
        shipped = [o for o in orders if o["state"] in ("partially_shipped", "shipped")]
        found.append(
            f.breakdown(
                **{key: where},
                orders=len(orders) + len(sold.get(where, [])),
                revenue=sum(
                    (
                        Decimal(str(ln["unit_price"])) * ln["qty"]
                        for o in orders
                        for ln in o["lines"]
                        if ln.get("unit_price") is not None
                    ),
                    sum(sold.get(where, []), Decimal(0)),
                ),
                returned=sum(returned[o["id"]] for o in orders),
                delivered=sum(ln["delivered"] for o in orders for ln in o["lines"]),
                oversells=oversells.get(where, 0),
                split=sum(1 for o in shipped if len({s["location"] for s in o["shipments"]}) > 1),
                shipped=len(shipped),
            )
        )
    return found
