"""The one rule for acknowledged writes, proven over the OpenAPI document: every write
operation it lists is answered (success or refusal) only once every ledger event in Redis
is in PostgreSQL's journal. No journal consumer runs here, so only the answer's own
durability wait can have put them there. Reads sent as POST must append nothing."""

from collections.abc import AsyncIterator

import asyncpg
import pytest

from api.app import OPS
from atp import keys
from atp.clock import ManualClock
from atp.limits import LEDGER_PARTITIONS
from durability.store import split_stream_id
from support.harness import Api, serving, settings_for
from support.routes_table import SAMPLES, arrange, path_of


@pytest.fixture
async def world(
    redis_url: str, db: asyncpg.Pool, pg_dsn: str, clock: ManualClock
) -> AsyncIterator[tuple[Api, str]]:
    async with serving(settings_for(redis_url, pg_dsn), clock) as api:
        found = await arrange(api.services, db)
        await api.services.durability.sync()  # the arranged world is journaled
        yield api, found["admin"]


async def _newest_in_redis(api: Api) -> dict[int, tuple[int, int]]:
    newest = {}
    for p in range(LEDGER_PARTITIONS):
        last = await api.engine.redis.command("XREVRANGE", keys.stream(p), "+", "-", "COUNT", 1)
        if last:
            newest[p] = split_stream_id(str(last[0][0]))
    return newest


async def _not_journaled(api: Api) -> list[str]:
    missing = []
    for partition, (ms, seq) in (await _newest_in_redis(api)).items():
        found = await api.services.pool.fetchval(
            "SELECT 1 FROM ledger_events WHERE partition = $1 AND stream_ms = $2"
            " AND stream_seq = $3",
            partition,
            ms,
            seq,
        )
        if not found:
            missing.append(f"{partition}-{ms}-{seq}")
    return missing


async def test_every_write_in_the_openapi_document_answers_only_once_durable(
    world: tuple[Api, str],
) -> None:
    api, admin = world
    document = (await api.client.get("/openapi.json")).json()
    by_name = {op.name: op for op in OPS}
    checked, wrong = [], []
    for template, methods in document["paths"].items():
        for method, operation in methods.items():
            if method == "get":
                continue
            name = operation["operationId"]
            assert name in SAMPLES, f"add {name} to tests/support/routes_table.py"
            sample, op = SAMPLES[name], by_name[name]
            before = await _newest_in_redis(api)
            r = await api.client.request(
                method.upper(),
                path_of(template, sample),
                json=sample.json("admin"),
                headers={"Authorization": f"Bearer {admin}"},
            )
            if r.status_code >= 500:
                wrong.append(f"{name}: {r.status_code} {r.text[:200]}")
            elif not op.is_write and await _newest_in_redis(api) != before:
                wrong.append(f"{name} is declared a read but appended ledger events")
            elif missing := await _not_journaled(api):
                wrong.append(f"{name} answered {r.status_code} before {missing} were journaled")
            checked.append(name)
            await api.services.durability.sync()  # each operation is judged on its own
    assert not wrong, "\n".join(wrong)
    assert "replayPosEvents" in checked and "reserve" in checked  # the walk reached them
