"""A deliverer process for tests/webhooks/test_kill.py: the webhooks runner (fan-out and
deliverer) against the test database, on a clock running SPEED times faster than the wall
clock from BASE (so the backoff schedule and leases pass in moments), until killed.

    python tests/webhooks/deliverer_process.py DSN BASE_MS SPEED
"""

import asyncio
import sys
import time

from durability.db import create_pool
from webhooks.runner import Webhooks


async def main(dsn: str, base_ms: int, speed: int) -> None:
    def now_ms() -> int:
        return base_ms + (int(time.time() * 1000) - base_ms) * speed

    pool = await create_pool(dsn)
    runner = Webhooks(pool, allow_private=True, now_ms=now_ms)
    runner.start()
    print("started", flush=True)
    await asyncio.Event().wait()  # until SIGKILL


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
