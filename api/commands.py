"""``atp serve`` and ``atp keys create|revoke`` (picked up by atp.cli's registry)."""

import argparse
import asyncio
import os
import sys
from typing import Any

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def _redis_url(args: argparse.Namespace) -> str:
    return str(args.redis_url or os.environ.get("ATP_REDIS_URL") or DEFAULT_REDIS)


async def _with_engine(url: str, work: Any) -> Any:
    from atp.engine import Engine

    engine = Engine.connect(url)
    try:
        return await work(engine)
    finally:
        await engine.close()


def serve(args: argparse.Namespace) -> int:
    from api import demo
    from api import serve as runner
    from api.settings import SettingsError, from_env

    os.environ["ATP_REDIS_URL"] = _redis_url(args)
    if args.dev:
        os.environ["ATP_ENV"] = "development"
        os.environ["ATP_AUTH"] = "off"
    try:
        from_env().validate()  # refuse unsafe settings before any worker starts
    except SettingsError as exc:
        print(f"atp serve: {exc}", file=sys.stderr)
        return 2
    demo_keys: dict[str, str] = {}
    chain = demo.REDIS_ONLY
    if args.demo:

        async def seed(engine: Any) -> tuple[demo.DemoChain, dict[str, str]]:
            chain = await demo.seed(engine, _redis_url(args), os.environ.get("ATP_PG_DSN") or None)
            return chain, await demo.keys(engine, chain)

        chain, demo_keys = asyncio.run(_with_engine(_redis_url(args), seed))
    processes = runner.start(args.host, args.port, args.workers)
    if not runner.wait_ready(args.host, args.port):
        print("atp serve: workers did not become ready (is Redis up?)", file=sys.stderr)
        runner.stop(processes)
        return 1
    url = f"http://{args.host}:{args.port}"
    print(f"ATP API   {url}  ({args.workers} worker{'s' * (args.workers > 1)})")
    print(f"API docs  {url}/docs   (OpenAPI: {url}/openapi.json)")
    for kind, key in demo_keys.items():
        print(f"demo key  {kind:<16} {key}")
    if demo_keys:
        print(f"try       curl -H 'Authorization: Bearer <key>' '{demo.example(url, chain)}'")
    if args.dev:
        print("auth is OFF (development mode): do not expose this server")
    sys.stdout.flush()
    return runner.supervise(processes, args.duration)


def keys_create(args: argparse.Namespace) -> int:
    from api.auth import Scope, create_key

    try:
        scopes = [Scope(s) for s in args.scope]
    except ValueError:
        print(f"scopes: {', '.join(s.value for s in Scope)}", file=sys.stderr)
        return 2

    async def create(engine: Any) -> tuple[str, str]:
        return await create_key(engine.redis, scopes, args.location, args.name, args.rate)

    key_id, key = asyncio.run(_with_engine(_redis_url(args), create))
    print(key)  # shown once: only its hash is stored
    print(f"key id {key_id} (use it to revoke)", file=sys.stderr)
    return 0


def keys_revoke(args: argparse.Namespace) -> int:
    from api.auth import revoke_key

    async def revoke(engine: Any) -> bool:
        return await revoke_key(engine.redis, args.key)

    if asyncio.run(_with_engine(_redis_url(args), revoke)):
        print("revoked")
        return 0
    print("no such key", file=sys.stderr)
    return 1


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("serve", help="run the HTTP API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="single-worker processes (SO_REUSEPORT)")
    p.add_argument("--redis-url", help=f"default $ATP_REDIS_URL or {DEFAULT_REDIS}")
    p.add_argument("--demo", action="store_true", help="seed a demo retailer, print demo keys")
    p.add_argument("--dev", action="store_true", help="development mode: authentication off")
    p.add_argument("--duration", type=float, help="stop after this many seconds (benchmarks)")
    p.set_defaults(handler=serve)

    keys = subparsers.add_parser("keys", help="create or revoke API keys")
    sub = keys.add_subparsers(dest="keys_command", required=True)
    c = sub.add_parser("create", help="create a key; it is printed once")
    c.add_argument("--scope", action="append", required=True, help="repeatable")
    c.add_argument("--location", action="append", default=[], help="bind to a store; repeatable")
    c.add_argument("--name", default="")
    c.add_argument("--rate", type=float, help="requests per second (default: server's)")
    c.add_argument("--redis-url")
    c.set_defaults(handler=keys_create)
    r = sub.add_parser("revoke", help="revoke a key (the key or its id)")
    r.add_argument("key")
    r.add_argument("--redis-url")
    r.set_defaults(handler=keys_revoke)
