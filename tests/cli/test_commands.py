"""`atp keys create|list|revoke` and `atp serve`'s start-up refusal, in-process."""

import asyncio

import asyncpg
import pytest

from api.auth import Authenticator, Principal
from atp.model import Channel
from cli.main import main


async def _principal(dsn: str, key: str) -> Principal:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    assert pool is not None
    try:
        return await Authenticator(pool, 0).authenticate(f"Bearer {key}")
    finally:
        await pool.close()


async def test_keys_create_prints_a_working_key_list_shows_it_and_revoke_ends_it(
    db: asyncpg.Pool, pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["keys", "create", "--scope", "stock:write", "--location", "S1", "--pg-dsn", pg_dsn]
    assert await asyncio.to_thread(main, argv) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("atp_")
    principal = await _principal(pg_dsn, key)
    assert principal.locations == frozenset({"S1"})
    assert principal.channels == frozenset({Channel.store})  # a register's default
    assert await asyncio.to_thread(main, ["keys", "list", "--pg-dsn", pg_dsn]) == 0
    assert key.split("_")[1] in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["keys", "revoke", key, "--pg-dsn", pg_dsn]) == 0
    assert await asyncio.to_thread(main, ["keys", "revoke", key, "--pg-dsn", pg_dsn]) == 1


async def test_keys_create_refuses_an_unknown_scope(db: asyncpg.Pool, pg_dsn: str) -> None:
    argv = ["keys", "create", "--scope", "root", "--pg-dsn", pg_dsn]
    assert await asyncio.to_thread(main, argv) == 2


def test_serve_refuses_auth_off_outside_development(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATP_AUTH", "off")
    monkeypatch.setenv("ATP_ENV", "production")
    assert main(["serve", "--port", "7399"]) == 2
    assert "development" in capsys.readouterr().err
