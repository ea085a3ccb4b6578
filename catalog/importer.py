"""``atp import locations|stock|safety FILE.csv``: bulk loads that report bad rows and load
the rest. Re-running a file changes nothing: locations are upserted, and a stock or safety
row whose value the ledger already holds is skipped (no event).

Columns (header row required, any order, case-insensitive):
- locations: id, name, kind, latitude, longitude, time_zone; optional opening_hours
  ("mon-fri 09:00-21:00; sat 10:00-18:00; sun closed"), pickup, ship, ship_from_store
  (true/false/yes/no/1/0), daily_pick_capacity, priority, groups ("a;b")
- stock: sku, location, on_hand (a count: sets on hand)
- safety: sku, location, safety
SKUs a stock or safety file names are added to the catalog; locations must exist.
"""

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec

from atp import keys
from atp.model import InvalidInput
from atp.validate import check_count, check_id
from catalog.csvrows import Errors, Progress, RowError, read_rows
from catalog.locations import LOCATION_OPTIONAL, LOCATION_REQUIRED, CatalogLocation, parse_location
from durability.db import Conn
from durability.limits import IMPORT_ROWS_PER_BATCH
from engine.durable import DurableEngine


class ImportReport(msgspec.Struct):
    kind: str
    rows_read: int = 0
    rows_changed: int = 0
    rows_unchanged: int = 0
    errors: list[RowError] = []
    errors_total: int = 0


def _valid_rows(
    path: Path,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    key: Callable[[dict[str, str]], tuple[str, ...]],
    errors: Errors,
    progress: Progress,
    report: ImportReport,
) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows that parse, each key once (a repeat is an error naming the first line)."""
    first_line: dict[tuple[str, ...], int] = {}
    for line, row, done in read_rows(path, required, optional, errors):
        report.rows_read += 1
        progress.update(done, report.rows_read, errors.total)
        k = key(row)
        if k in first_line:
            field = "/".join(required[: len(k)])
            errors.add(RowError(line, field, f"duplicate of line {first_line[k]}"))
            continue
        first_line[k] = line
        yield line, row


async def import_locations(
    conn: Conn, engine: DurableEngine, path: Path, progress: Progress
) -> ImportReport:
    report, errors = ImportReport("locations"), Errors()
    batch: list[CatalogLocation] = []
    rows = _valid_rows(
        path, LOCATION_REQUIRED, LOCATION_OPTIONAL, lambda r: (r["id"],), errors, progress, report
    )
    for line, row in rows:
        try:
            batch.append(parse_location(row))
        except InvalidInput as error:
            errors.add(RowError(line, error.field, error.message))
            continue
        if len(batch) >= IMPORT_ROWS_PER_BATCH:
            await _store_locations(conn, engine, batch)
            report.rows_changed += len(batch)
            batch = []
    await _store_locations(conn, engine, batch)
    report.rows_changed += len(batch)
    return _finish(report, errors, progress, path)


_UPSERT_LOCATIONS = """
INSERT INTO locations AS l (id, name, kind, latitude, longitude, time_zone, opening_hours,
    pickup, ship, ship_from_store, daily_pick_capacity, priority, holidays,
    pickup_cutoff_minutes, pickup_capacity_per_hour, updated_at)
SELECT id, name, kind, lat, lon, tz, hours, pickup, ship, sfs, cap, prio,
    coalesce((SELECT array_agg(d::date) FROM jsonb_array_elements_text(days) d), '{}'),
    cutoff, per_hour, now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::float8[],
    $6::text[], $7::jsonb[], $8::bool[], $9::bool[], $10::bool[], $11::int[], $12::int[],
    $13::jsonb[], $14::int[], $15::int[])
    AS t(id, name, kind, lat, lon, tz, hours, pickup, ship, sfs, cap, prio, days, cutoff,
         per_hour)
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
    latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude,
    time_zone = EXCLUDED.time_zone, opening_hours = EXCLUDED.opening_hours,
    pickup = EXCLUDED.pickup, ship = EXCLUDED.ship, ship_from_store = EXCLUDED.ship_from_store,
    daily_pick_capacity = EXCLUDED.daily_pick_capacity, priority = EXCLUDED.priority,
    holidays = EXCLUDED.holidays, pickup_cutoff_minutes = EXCLUDED.pickup_cutoff_minutes,
    pickup_capacity_per_hour = EXCLUDED.pickup_capacity_per_hour, updated_at = now()
"""


async def store_locations(conn: Conn, locations: list[CatalogLocation]) -> set[str]:
    """Upserts locations and sets their group memberships; returns the groups touched."""
    if not locations:
        return set()
    columns = [
        [getattr(loc, f) for loc in locations] for f in CatalogLocation.__struct_fields__[:12]
    ]
    columns[6] = [msgspec.json.encode(h).decode() for h in columns[6]]
    columns.append([msgspec.json.encode(loc.holidays).decode() for loc in locations])
    columns.append([loc.pickup_cutoff_minutes for loc in locations])
    columns.append([loc.pickup_capacity_per_hour for loc in locations])
    ids = [loc.id for loc in locations]
    async with conn.transaction():
        await conn.execute(_UPSERT_LOCATIONS, *columns)
        touched = {
            r["group_name"]
            for r in await conn.fetch(
                "DELETE FROM location_group_members WHERE location_id = ANY($1::text[])"
                " RETURNING group_name",
                ids,
            )
        }
        pairs = [(g, loc.id) for loc in locations for g in loc.groups]
        touched |= {g for g, _ in pairs}
        await conn.executemany(
            "INSERT INTO location_groups (name) VALUES ($1) ON CONFLICT DO NOTHING",
            [(g,) for g in sorted(touched)],
        )
        await conn.executemany(
            "INSERT INTO location_group_members (group_name, location_id) VALUES ($1, $2)", pairs
        )
    return touched


async def _store_locations(
    conn: Conn, engine: DurableEngine, locations: list[CatalogLocation]
) -> None:
    for group in sorted(await store_locations(conn, locations)):
        await sync_group(conn, engine, group)


async def sync_group(conn: Conn, engine: DurableEngine, group: str) -> None:
    """The Redis set availability reads mirrors the catalog's membership."""
    members = [
        r["location_id"]
        for r in await conn.fetch(
            "SELECT location_id FROM location_group_members WHERE group_name = $1 ORDER BY 1",
            group,
        )
    ]
    if members:
        await engine.availability.define_group(group, members)
    else:
        await engine.redis.command("DEL", keys.group(group))


async def import_quantities(
    conn: Conn, engine: DurableEngine, kind: str, path: Path, progress: Progress
) -> ImportReport:
    """kind 'stock' (column on_hand) or 'safety' (column safety)."""
    column = "on_hand" if kind == "stock" else "safety"
    report, errors = ImportReport(kind), Errors()
    known = {r["id"] for r in await conn.fetch("SELECT id FROM locations")}
    batch: list[tuple[str, str, int]] = []
    required = ("sku", "location", column)
    key = lambda r: (r["sku"], r["location"])  # noqa: E731
    for line, row in _valid_rows(path, required, (), key, errors, progress, report):
        try:
            sku = check_id("sku", row["sku"])
            location = check_id("location", row["location"])
            if location not in known:
                raise InvalidInput("location", f"unknown location {location!r}")
            qty = check_count(column, _integer(column, row[column]))
        except InvalidInput as error:
            errors.add(RowError(line, error.field, error.message))
            continue
        batch.append((sku, location, qty))
        if len(batch) >= IMPORT_ROWS_PER_BATCH:
            await apply_quantities(conn, engine, kind, batch, report)
            batch = []
    await apply_quantities(conn, engine, kind, batch, report)
    return _finish(report, errors, progress, path)


def _integer(field: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidInput(field, f"must be a whole number, got {text!r}") from None


async def apply_quantities(
    conn: Conn,
    engine: DurableEngine,
    kind: str,
    rows: list[tuple[str, str, int]],
    report: ImportReport,
) -> None:
    """Registers the SKUs, then writes only the positions whose value differs."""
    if not rows:
        return
    await conn.execute(
        "INSERT INTO skus (id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
        sorted({sku for sku, _, _ in rows}),
    )
    field = "oh" if kind == "stock" else "sf"
    redis = engine.redis
    current = await asyncio.gather(
        *(redis.command("HGET", keys.position(sku, loc), field) for sku, loc, _ in rows)
    )
    changed = [r for r, now in zip(rows, current, strict=True) if int(now or 0) != r[2]]
    if kind == "stock":
        # A fresh position counted as 0 writes nothing either; an event would say nothing.
        writes = [engine.stock.set_on_hand(s, loc, q, reason="import") for s, loc, q in changed]
    else:
        writes = [engine.stock.set_safety(s, loc, q) for s, loc, q in changed]
    await asyncio.gather(*writes)
    report.rows_changed += len(changed)
    report.rows_unchanged += len(rows) - len(changed)


def _finish(report: ImportReport, errors: Errors, progress: Progress, path: Path) -> ImportReport:
    progress.update(path.stat().st_size, report.rows_read, errors.total, final=True)
    report.errors, report.errors_total = errors.kept, errors.total
    return report
