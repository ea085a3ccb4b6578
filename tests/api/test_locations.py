"""GET /v1/locations: the catalog's locations, coordinates and groups, for any key that
reads availability; filters by kind and group, pages by cursor."""

import asyncpg

from routing.location_directory import RoutingLocation
from routing.model import Capability, LocationKind
from support.harness import Api, assert_problem, catalog, field_of

STORE = frozenset({Capability.pickup, Capability.ship_from_store})
WAREHOUSE = frozenset({Capability.ship})
LOCATIONS = [
    RoutingLocation("ST-001", LocationKind.store, STORE, 59.9111, 10.7528, 200, 50),
    RoutingLocation(
        "ST-002", LocationKind.store, frozenset({Capability.pickup}), 59.9296, 10.7146, 150, 51
    ),
    RoutingLocation("ST-003", LocationKind.store, STORE, 59.9226, 10.7590, 300, 52),
    RoutingLocation("WH-BERGER", LocationKind.warehouse, WAREHOUSE, 59.6010, 10.7260, 20_000, 10),
]


async def _world(pool: asyncpg.Pool) -> None:
    await catalog(pool, LOCATIONS)
    await pool.execute(
        "INSERT INTO location_groups (name) VALUES ('oslo-stores'), ('ship-network')"
    )
    await pool.execute(
        "INSERT INTO location_group_members (group_name, location_id) VALUES"
        " ('oslo-stores', 'ST-001'), ('oslo-stores', 'ST-002'), ('oslo-stores', 'ST-003'),"
        " ('ship-network', 'ST-001'), ('ship-network', 'WH-BERGER')"
    )
    await pool.execute(
        "UPDATE locations SET name = 'Store Oslo S', time_zone = 'Europe/Oslo',"
        ' opening_hours = \'{"mon": [["09:00", "20:00"]]}\' WHERE id = \'ST-001\''
    )


async def test_lists_every_location_with_coordinates_and_groups(api: Api) -> None:
    await _world(api.services.pool)
    r = await api.call("GET", "/v1/locations", "reader")
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["id"] for x in body["items"]] == ["ST-001", "ST-002", "ST-003", "WH-BERGER"]
    assert body["next_cursor"] is None
    first = body["items"][0]
    assert first == {
        "id": "ST-001",
        "name": "Store Oslo S",
        "kind": "store",
        "latitude": 59.9111,
        "longitude": 10.7528,
        "time_zone": "Europe/Oslo",
        "opening_hours": {"mon": [["09:00", "20:00"]]},
        "pickup": True,
        "ship": False,
        "ship_from_store": True,
        "daily_pick_capacity": 200,
        "priority": 50,
        "groups": ["oslo-stores", "ship-network"],
        "holidays": [],
        "pickup_cutoff_minutes": 30,
        "pickup_capacity_per_hour": 0,
    }
    warehouse = body["items"][3]
    assert warehouse["kind"] == "warehouse" and warehouse["ship"] is True
    assert warehouse["groups"] == ["ship-network"]


async def test_filters_by_kind_and_group(api: Api) -> None:
    await _world(api.services.pool)
    r = await api.call("GET", "/v1/locations?kind=warehouse", "reader")
    assert [x["id"] for x in r.json()["items"]] == ["WH-BERGER"]
    r = await api.call("GET", "/v1/locations?group=ship-network", "reader")
    items = r.json()["items"]
    assert [x["id"] for x in items] == ["ST-001", "WH-BERGER"]
    assert items[0]["groups"] == ["oslo-stores", "ship-network"]  # every group, not the filter's
    r = await api.call("GET", "/v1/locations?group=oslo-stores&kind=store", "reader")
    assert [x["id"] for x in r.json()["items"]] == ["ST-001", "ST-002", "ST-003"]
    r = await api.call("GET", "/v1/locations?group=nowhere", "reader")
    assert r.status_code == 200 and r.json()["items"] == []


async def test_pages_by_cursor(api: Api) -> None:
    await _world(api.services.pool)
    seen, cursor, pages = [], None, 0
    while True:
        query = "limit=3" + (f"&cursor={cursor}" if cursor else "")
        r = await api.call("GET", f"/v1/locations?{query}", "reader")
        assert r.status_code == 200, r.text
        page = r.json()
        seen += [x["id"] for x in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 2
    assert seen == ["ST-001", "ST-002", "ST-003", "WH-BERGER"]


async def test_one_location(api: Api) -> None:
    await _world(api.services.pool)
    r = await api.call("GET", "/v1/locations/WH-BERGER", "pos")  # any reader, bound or not
    assert r.status_code == 200, r.text
    assert r.json()["latitude"] == 59.601 and r.json()["groups"] == ["ship-network"]
    assert_problem(
        await api.call("GET", "/v1/locations/ST-999", "reader"), 404, "location-not-found"
    )


async def test_bad_parameters_are_named(api: Api) -> None:
    r = await api.call("GET", "/v1/locations?kind=shop", "reader")
    assert field_of(assert_problem(r, 422, "invalid-input")) == "kind"
    r = await api.call("GET", "/v1/locations?group=a%7Bb%7D", "reader")
    assert field_of(assert_problem(r, 422, "invalid-input")) == "group"
    r = await api.call("GET", "/v1/locations?limit=0", "reader")
    assert field_of(assert_problem(r, 422, "invalid-input")) == "limit"
    r = await api.call("GET", "/v1/locations?cursor=a%3Ab", "reader")
    assert field_of(assert_problem(r, 422, "invalid-input")) == "cursor"
    r = await api.call("GET", "/v1/locations/a%3Ab", "reader")
    assert field_of(assert_problem(r, 422, "invalid-input")) == "location"


async def test_needs_the_availability_read_scope(api: Api) -> None:
    assert_problem(await api.call("GET", "/v1/locations", "stock"), 403)
    assert_problem(await api.client.get("/v1/locations"), 401)
