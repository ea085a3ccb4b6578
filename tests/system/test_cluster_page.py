"""The page (/ui/) on a private 3-master Redis Cluster (issue 17: every feature there): the
served app in-process on the cluster, each view rendered for an admin and for a register,
and a store associate's step through the page moving the order as on one Redis."""

from collections.abc import AsyncIterator

import asyncpg
import pytest

from support.harness import Api
from support.ui_world import ORDER, csrf_of, page_app, place_order, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.servers, pytest.mark.timeout(60)]

VIEWS = (
    "/ui/availability?skus=A,B&group=",
    "/ui/feed?sku=A",
    "/ui/store/S1",
    "/ui/reservations",
    "/ui/kpis",
    "/ui/store",
)


@pytest.fixture
async def site(cluster_url: str, db: asyncpg.Pool, pg_dsn: str) -> AsyncIterator[Api]:
    async with page_app(cluster_url, pg_dsn, db) as api:
        yield api


async def test_every_view_renders_and_a_store_step_moves_the_order(site: Api) -> None:
    await place_order(site.client, site.keys["admin"])
    for kind in ("admin", "pos"):
        await sign_in(site.client, site.keys[kind])
        for view in VIEWS:
            r = await site.client.get(view)
            assert r.status_code in (200, 303), (kind, view, r.text)
    grid = await site.client.get("/ui/availability", params={"skus": "A,B"})
    assert "S1" in grid.text and "W1" in grid.text  # positions read across the masters
    store = await site.client.get("/ui/store/S1")
    assert ORDER in store.text
    step = await site.client.post(
        f"/ui/store/S1/orders/{ORDER}/staged", data={"csrf_token": csrf_of(store.text)}
    )
    assert step.status_code == 303, step.text
    order = await site.call("GET", f"/v1/orders/{ORDER}")
    assert order.json()["state"] == "staged", order.text
