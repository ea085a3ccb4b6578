"""Every route x every kind of key, from one table (support/routes_table.py): 401 without a
valid key, 403 naming the rule where a key's scope, channel or locations do not reach,
anything else where they do. A route missing from the table fails here."""

from collections.abc import AsyncIterator

import asyncpg
import pytest

from api.app import OPS
from atp.clock import ManualClock
from support.harness import Api, serving, settings_for
from support.route_sample import DENIED, KINDS, OK, UNAUTHENTICATED
from support.routes_table import SAMPLES, arrange, path_of

RULES = {"scope-missing", "channel-not-allowed", "location-not-allowed", "device-not-registered"}


@pytest.fixture
async def world(
    redis_url: str, db: asyncpg.Pool, pg_dsn: str, clock: ManualClock
) -> AsyncIterator[tuple[Api, dict[str, str]]]:
    async with serving(settings_for(redis_url, pg_dsn), clock) as api:
        yield api, await arrange(api.services, db)


def test_every_route_has_a_row() -> None:
    missing = sorted({op.name for op in OPS} - set(SAMPLES))
    assert not missing, f"add these operations to tests/support/routes_table.py: {missing}"
    stale = sorted(set(SAMPLES) - {op.name for op in OPS})
    assert not stale, f"no such operations any more: {stale}"


async def test_the_matrix(world: tuple[Api, dict[str, str]]) -> None:
    api, keys = world
    wrong: list[str] = []
    # The forbidden kinds first: a refused request must change nothing the others rely on.
    order = sorted(KINDS, key=lambda k: k not in ("none", "revoked", "register_b"))
    for op in OPS:
        sample = SAMPLES[op.name]
        assert sample.expect is not None
        for kind in order:
            headers = {"Authorization": f"Bearer {keys[kind]}"} if keys[kind] else {}
            r = await api.client.request(
                op.method, path_of(op.path, sample), json=sample.json(kind), headers=headers
            )
            want = UNAUTHENTICATED if kind in ("none", "revoked") else sample.expect[kind]
            got = r.status_code
            if (want == OK and got in (401, 403)) or (want != OK and got != want):
                wrong.append(f"{op.name} as {kind}: {got} (want {want}) {r.text[:160]}")
            elif want == DENIED and r.json()["type"].rsplit("/", 1)[1] not in RULES:
                wrong.append(f"{op.name} as {kind}: 403 without a named rule: {r.text[:160]}")
            elif got >= 500:
                wrong.append(f"{op.name} as {kind}: {got} {r.text[:160]}")
    assert not wrong, "\n".join(wrong)
