"""The catalog's locations: where each store and warehouse is, what it does, its opening
hours and the groups it belongs to (PostgreSQL's ``locations`` and
``location_group_members``). For any key that reads availability: a storefront finds its
pickup stores' coordinates here, a register another store's hours."""

import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from api import lanes, params
from api.auth import Scope
from api.ops import Ctx, Op, Param, Reply
from api.problems import ApiError, invalid
from api.schemas import GroupId, LocationId, Response
from atp.validate import check_id
from catalog.locations import KINDS

LOCATIONS_LIMIT_DEFAULT = 100
LOCATIONS_LIMIT_MAX = 500
READ_ERRORS = frozenset({401, 403, 422, 429})

Hours = Annotated[
    dict[str, list[list[str]]],
    Meta(
        description="local opening hours per day (mon..sun) in the location's time_zone; "
        "a missing day is closed",
        examples=[{"mon": [["09:00", "20:00"]], "sat": [["10:00", "18:00"]]}],
    ),
]


class LocationOut(Response, frozen=True):
    id: LocationId
    name: str
    kind: Literal["store", "warehouse", "dark_store"]
    latitude: float
    longitude: float
    time_zone: Annotated[str, Meta(description="IANA time zone", examples=["Europe/Oslo"])]
    opening_hours: Hours
    pickup: bool  # a store customers collect from
    ship: bool  # a warehouse or dark store that ships
    ship_from_store: bool  # a store that ships
    daily_pick_capacity: int  # units it can pick a day (routing's capacity)
    priority: int  # lower preferred by routing
    groups: list[GroupId]  # every group it belongs to, by name
    holidays: list[datetime.date]  # local dates it is closed
    pickup_cutoff_minutes: int  # pickup orders this close to closing start next opening
    pickup_capacity_per_hour: int  # pickup orders staged an hour (0: not counted)


class LocationPage(Response, frozen=True):
    items: list[LocationOut]  # by id
    next_cursor: str | None  # pass back as ?cursor= for the next page; null at the end


_SELECT = """
SELECT l.id, l.name, l.kind, l.latitude, l.longitude, l.time_zone,
       l.opening_hours::text AS opening_hours, l.pickup, l.ship, l.ship_from_store,
       l.daily_pick_capacity, l.priority, l.holidays, l.pickup_cutoff_minutes,
       l.pickup_capacity_per_hour,
       ARRAY(SELECT m.group_name FROM location_group_members m
             WHERE m.location_id = l.id ORDER BY m.group_name) AS groups
FROM locations l
"""
_PAGE = (
    _SELECT
    + """
WHERE ($1::text IS NULL OR l.kind = $1)
  AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM location_group_members g
                                   WHERE g.location_id = l.id AND g.group_name = $2))
  AND l.id > $3
ORDER BY l.id
LIMIT $4
"""
)
_ONE = _SELECT + "WHERE l.id = $1"
_hours = msgspec.json.Decoder(dict[str, list[list[str]]])


def _location(row: Any) -> LocationOut:
    return LocationOut(
        id=row["id"],
        name=row["name"],
        kind=row["kind"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        time_zone=row["time_zone"],
        opening_hours=_hours.decode(row["opening_hours"]),
        pickup=row["pickup"],
        ship=row["ship"],
        ship_from_store=row["ship_from_store"],
        daily_pick_capacity=row["daily_pick_capacity"],
        priority=row["priority"],
        groups=list(row["groups"]),
        holidays=list(row["holidays"]),
        pickup_cutoff_minutes=row["pickup_cutoff_minutes"],
        pickup_capacity_per_hour=row["pickup_capacity_per_hour"],
    )


async def list_locations(ctx: Ctx, _: None) -> Reply:
    query = ctx.query()
    kind = query.get("kind")
    if kind is not None and kind not in KINDS:
        raise invalid("kind", f"must be one of {', '.join(KINDS)}")
    group = query.get("group")
    if group is not None:
        check_id("group", group)
    cursor = query.get("cursor")
    after = "" if cursor is None else check_id("cursor", cursor)
    limit = params.integer(query, "limit", LOCATIONS_LIMIT_DEFAULT, 1, LOCATIONS_LIMIT_MAX)
    rows = await ctx.services.pool.fetch(_PAGE, kind, group, after, limit + 1)
    items = [_location(row) for row in rows[:limit]]
    more = len(rows) > limit
    return 200, LocationPage(items, items[-1].id if more else None)


async def get_location(ctx: Ctx, _: None) -> Reply:
    row = await ctx.services.pool.fetchrow(_ONE, ctx.path("location"))
    if row is None:
        raise ApiError(
            404, "location-not-found", "No such location", "the catalog has no such location"
        )
    return 200, _location(row)


OPS = [
    Op(
        "GET",
        "/v1/locations",
        "listLocations",
        "The catalog's locations with their coordinates, hours and groups, by id",
        list_locations,
        Scope.availability_read,
        {200: LocationPage},
        READ_ERRORS,
        params=(
            Param("kind", "query", {"type": "string", "enum": list(KINDS)}, "only this kind"),
            Param("group", "query", params.id_schema("group"), "only members of this group"),
            Param(
                "limit",
                "query",
                {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": LOCATIONS_LIMIT_MAX,
                    "default": LOCATIONS_LIMIT_DEFAULT,
                },
            ),
            Param("cursor", "query", params.ID_SCHEMA, "a page's next_cursor"),
        ),
        tag="locations",
        lane=lanes.anywhere,
        description="Every location is readable by any key that reads availability, a key "
        "bound to stores included. An unknown group lists nothing.",
    ),
    Op(
        "GET",
        "/v1/locations/{location}",
        "getLocation",
        "One location of the catalog",
        get_location,
        Scope.availability_read,
        {200: LocationOut},
        READ_ERRORS | {404},
        params=(params.path_id("location"),),
        tag="locations",
        lane=lanes.anywhere,
    ),
]
