"""`atp keys create|revoke` and `atp serve`'s start-up refusal, in-process."""

import asyncio

import pytest

from api.auth import Authenticator
from atp.cli import main
from atp.redis_io import connect


async def _principal(url: str, key: str) -> object:
    redis = connect(url)
    try:
        return await Authenticator(redis, 0).authenticate(f"Bearer {key}")
    finally:
        await redis.close()


def test_keys_create_prints_a_working_key_and_revoke_ends_it(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "keys",
        "create",
        "--scope",
        "stock:write",
        "--location",
        "S1",
        "--redis-url",
        redis_url,
    ]
    assert main(argv) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("atp_")
    principal = asyncio.run(_principal(redis_url, key))
    assert principal.locations == frozenset({"S1"})  # type: ignore[attr-defined]
    assert main(["keys", "revoke", key, "--redis-url", redis_url]) == 0
    assert main(["keys", "revoke", key, "--redis-url", redis_url]) == 1


def test_keys_create_refuses_an_unknown_scope(redis_url: str) -> None:
    assert main(["keys", "create", "--scope", "root", "--redis-url", redis_url]) == 2


def test_serve_refuses_auth_off_outside_development(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATP_AUTH", "off")
    monkeypatch.setenv("ATP_ENV", "production")
    assert main(["serve", "--port", "7399"]) == 2
    assert "development" in capsys.readouterr().err
