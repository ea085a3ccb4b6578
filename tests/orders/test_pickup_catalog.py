"""A store's pickup settings come from the catalog: imported from CSV (holidays, cut-off,
capacity per hour), shown by GET /v1/locations, and obeyed by the pickup promise."""

# ruff: noqa: E501  (CSV rows are as long as retailers write them)

import datetime as dt
import io
from pathlib import Path

import pytest

from atp.model import InvalidInput
from catalog.csvrows import Progress
from catalog.importer import import_locations
from catalog.locations import parse_holidays
from support.harness import Api

# 2027-01-15 08:00 UTC (the test clock) is a Friday, 09:00 in Oslo.
LOCATIONS = """id,name,kind,latitude,longitude,time_zone,opening_hours,pickup,holidays,pickup_cutoff_minutes,pickup_capacity_per_hour
ST-1,Store Oslo S,store,59.9111,10.7528,Europe/Oslo,mon-sat 09:00-20:00,yes,2027-01-15;2027-01-16,45,4
"""


def test_holidays_parse_sorted_and_unique_and_bad_dates_name_the_field() -> None:
    assert parse_holidays("2027-01-16; 2027-01-15;2027-01-16") == (
        dt.date(2027, 1, 15),
        dt.date(2027, 1, 16),
    )
    with pytest.raises(InvalidInput) as refused:
        parse_holidays("2027-13-01")
    assert refused.value.field == "holidays"


async def test_imported_holidays_move_the_promise_past_them(api: Api, tmp_path: Path) -> None:
    path = tmp_path / "locations.csv"
    path.write_text(LOCATIONS)
    async with api.services.pool.acquire() as conn:
        await import_locations(conn, api.engine, path, Progress("test", 1, io.StringIO()))
    shown = (await api.call("GET", "/v1/locations/ST-1", "reader")).json()
    assert shown["holidays"] == ["2027-01-15", "2027-01-16"]
    assert (shown["pickup_cutoff_minutes"], shown["pickup_capacity_per_hour"]) == (45, 4)
    await api.engine.stock.adjust("A", "ST-1", 5, "receipt")
    r = await api.call("GET", "/v1/pickup/promise?sku=A&qty=1&location=ST-1", "reader")
    assert r.status_code == 200, r.text
    local = dt.datetime.fromisoformat(r.json()["local_time"])
    # Friday and Saturday are holidays, Sunday closed: Monday 09:00 + 45 min stage time.
    assert local.date() == dt.date(2027, 1, 18)
    assert local.strftime("%H:%M") == "09:45"
