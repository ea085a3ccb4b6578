"""``python -m bench.capacity [--positions N] [--masters] [--results-md]``: what one
position costs in Redis memory (the capacity model in the README), and with ``--masters``
one Redis against a 3-master cluster under the same load (bench/capacity/masters.py).
A private redis-server (no persistence, loopback, killed by its PID at the end) is filled
with positions through the engine's own stock writes; ``used_memory`` before and after,
with the partitions' event streams (trimmed at ``EVENT_STREAM_MAXLEN``) and without them."""

import argparse
import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import redis

from bench.capacity import masters
from bench.common.results import RESULTS_MD, update_markdown_section
from engine.local import Engine

TITLE: Final = "Redis memory per position (python -m bench.capacity)"
LOCATIONS: Final = 20
POSITIONS_DEFAULT: Final = 200_000
WRITES_IN_FLIGHT: Final = 2_000
START_WAIT_S: Final = 10.0
HOST: Final = "127.0.0.1"


@dataclass(frozen=True)
class Memory:
    positions: int
    seconds: float
    with_streams: float  # bytes a position, the trimmed event streams included
    positions_only: float  # bytes a position once the streams are deleted
    redis_version: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _started(port: int) -> "subprocess.Popen[bytes]":
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        try:
            if redis.Redis(host=HOST, port=port).ping():
                return server
        except redis.ConnectionError:
            time.sleep(0.05)
    server.kill()
    raise SystemExit(f"redis-server on port {port} did not start")


async def _fill(url: str, positions: int, say: Callable[[str], None]) -> float:
    engine = Engine.connect(url)
    started = time.monotonic()
    try:
        per_location = positions // LOCATIONS
        for loc in range(LOCATIONS):
            writes = [
                engine.stock.set_on_hand(f"SKU-{i:06d}", f"ST-{loc:03d}", 5, reason="count")
                for i in range(per_location)
            ]
            for at in range(0, len(writes), WRITES_IN_FLIGHT):
                await asyncio.gather(*writes[at : at + WRITES_IN_FLIGHT])
            say(f"  {(loc + 1) * per_location:,} of {positions:,} positions written")
    finally:
        await engine.close()
    return time.monotonic() - started


def measure(positions: int) -> Memory:
    port = _free_port()
    server = _started(port)
    try:
        client = redis.Redis(host=HOST, port=port)
        base = int(client.info("memory")["used_memory"])
        seconds = asyncio.run(_fill(f"redis://{HOST}:{port}/0", positions, print))
        written = positions // LOCATIONS * LOCATIONS
        full = int(client.info("memory")["used_memory"])
        for stream in client.scan_iter("atp:*:events"):
            client.delete(stream)
        bare = int(client.info("memory")["used_memory"])
        version = str(client.info("server")["redis_version"])
        return Memory(written, seconds, (full - base) / written, (bare - base) / written, version)
    finally:
        server.kill()
        server.wait()


def markdown(m: Memory) -> str:
    return (
        f"Redis {m.redis_version}, private, no persistence; {m.positions:,} positions "
        f"({LOCATIONS} locations) written through `engine.stock.set_on_hand` in "
        f"{m.seconds:.1f} s.\n\n"
        "| figure | bytes a position |\n|---|--:|\n"
        f"| positions and their keys (streams deleted) | {m.positions_only:.1f} |\n"
        f"| with the partitions' trimmed event streams | {m.with_streams:.1f} |\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity", description=__doc__)
    parser.add_argument("--positions", type=int, default=POSITIONS_DEFAULT)
    parser.add_argument("--masters", action="store_true", help="1 Redis vs 3 masters too")
    parser.add_argument("--results-md", action="store_true", help="write into bench/RESULTS.md")
    args = parser.parse_args(argv)
    found = measure(args.positions)
    text = markdown(found)
    if args.masters:
        port = _free_port()
        server = _started(port)
        try:
            url = f"redis://{HOST}:{port}/0"
            text += masters.markdown(masters.compare(url, redis.Redis(host=HOST, port=port)))
        finally:
            server.kill()
            server.wait()
    print(text)
    if args.results_md:
        update_markdown_section(RESULTS_MD, TITLE, text, "# Benchmark results\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
