"""Background tasks' end: cancel, then wait for the cancellation to land."""

import asyncio
import contextlib


async def cancel_and_wait(task: "asyncio.Task[None] | None") -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
