"""Background work of an engine process: a pass repeated every interval, and its end."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def ended_within(name: str, work: Awaitable[object], seconds: float) -> bool:
    """Awaits ``work`` for at most ``seconds`` (then cancels it): one step of a shutdown
    that hangs must not keep the rest from ending, nor the process from exiting."""
    try:
        await asyncio.wait_for(work, seconds)
        return True
    except TimeoutError:
        log.error("%s did not end within %.0f s; going on without it", name, seconds)
        return False


async def cancel_and_wait(task: "asyncio.Task[None] | None") -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class Periodic:
    """Runs ``work`` every ``interval_s`` from ``start`` to ``stop``. A failing pass is
    logged and the next one runs on time: an outage must not end the task."""

    def __init__(self, name: str, work: Callable[[], Awaitable[object]], interval_s: float) -> None:
        self.name = name
        self.interval_s = interval_s
        self._work = work
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            try:
                await self._work()
            except Exception:
                log.exception(
                    "%s pass failed; the next one runs in %ss", self.name, self.interval_s
                )
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
