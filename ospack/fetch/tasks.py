"""The tasks around the workers of one fetch: feeding tiles, watching for Ctrl-C, ticking, ending.

Every task started here is awaited before the fetch returns, so stopping (Ctrl-C,
SIGTERM, an abort) never leaves an unretrieved ``CancelledError`` behind to be
printed as a traceback when the event loop closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ..types import Tile


class StopSignal(Protocol):
    """Anything with ``is_set()``: a ``threading.Event`` (set from a signal handler) or an ``asyncio.Event``."""

    def is_set(self) -> bool: ...


async def until_done(pool: list[asyncio.Task[None]], stopping: asyncio.Event, grace_s: float) -> None:
    """Wait for the workers; once ``stopping``, give them ``grace_s`` and cancel the rest.

    Workers end when the tiles run out. Once stopping (Ctrl-C, bad key), requests in
    flight get a short grace; workers still waiting then (a long 429 pause, a
    back-off) are cancelled, so stopping never waits out a pause. A worker that
    fails (e.g. the outcome callback raised) stops the rest and its error propagates.
    """
    stop_wait = asyncio.create_task(stopping.wait())
    pending: set[asyncio.Task[Any]] = set(pool)
    failed = False
    while pending and not failed and not stopping.is_set():
        done, pending = await asyncio.wait(pending | {stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        pending.discard(stop_wait)
        failed = any(t is not stop_wait and not t.cancelled() and t.exception() is not None for t in done)
    if pending and not failed:
        _, pending = await asyncio.wait(pending, timeout=grace_s)
    stop_wait.cancel()
    if pending:
        stopping.set()
        for task in pending:
            task.cancel()
    results = await asyncio.gather(*pool, stop_wait, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result


async def watch(stop_event: StopSignal, stopping: asyncio.Event) -> None:
    """Set ``stopping`` once ``stop_event`` is set."""
    # A threading.Event cannot be awaited; look at it often enough for Ctrl-C to feel instant.
    while not stop_event.is_set():
        await asyncio.sleep(0.05)
    stopping.set()


async def tick(on_tick: Callable[[], None], every_s: float = 1.0) -> None:
    """Call ``on_tick`` every ``every_s`` seconds of real time (ticks are for a person watching)."""
    while True:
        await asyncio.sleep(every_s)
        on_tick()


async def produce(
    tiles: Iterable[Tile], queue: asyncio.Queue[Tile | None], workers: int, stopping: asyncio.Event
) -> None:
    """Feed ``tiles`` into ``queue``, then one ``None`` per worker."""
    try:
        for tile in tiles:
            if stopping.is_set():
                break
            await queue.put(tile)
        for _ in range(workers):
            await queue.put(None)
    except BaseException:
        # the tile iterator failed or the run is over: release workers waiting on an empty queue
        stopping.set()
        for _ in range(workers):
            try:
                queue.put_nowait(None)
            except asyncio.QueueFull:
                break
        raise
