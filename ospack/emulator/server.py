"""Run the emulator: in a background thread (:class:`Emulator`) or in the foreground (:func:`serve`)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

from ..clock import Clock, WallClock
from ..errors import EmulatorError
from .app import EmulatorState, build_app
from .config import EmulatorConfig, check_port


class Emulator:
    """A local OS Maps API on a real HTTP server, run in a background thread with its own event loop.

    Parameters
    ----------
    config : EmulatorConfig, optional
        How the emulated service behaves (default: ``EmulatorConfig()``, one OpenData live key ``demo``).
    host, port : str, int
        Where to listen; port 0 picks a free one. Where it listens and which clock it reads are
        not the emulated service's behaviour, so they stay out of the config (and ``serve`` takes them apart).
    clock : Clock, optional
        Read with ``now()`` for quotas, spells and token expiry (default
        :class:`~ospack.clock.WallClock`); tests pass :class:`~ospack.testing.FakeClock`.

    The config's constructor is the one list of the service's settings and their checks: a
    misspelt name is its TypeError, a bad value its EmulatorOptionError.

    Examples
    --------
    >>> with Emulator(EmulatorConfig(keys=["k1:premium"], limit=6000)) as emulator:   # doctest: +SKIP
    ...     url = f"{emulator.url}/maps/raster/v1/zxy/Road_3857/7/63/42.png"
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
    ) -> None:
        self.config: EmulatorConfig = config or EmulatorConfig()
        self.host, self.port = host, check_port(port)
        self._clock: Clock = clock or WallClock()
        self._url: str | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._state: EmulatorState | None = None
        self._stopping: asyncio.Event | None = None

    @property
    def url(self) -> str:
        """Base URL (``http://127.0.0.1:PORT``) of the running server."""
        if self._url is None:
            raise EmulatorError("the emulator is not running; call start() first")
        return self._url

    def start(self) -> str:
        """Start serving in a background thread; return the base URL once it accepts connections."""
        if self._thread is not None:
            return self.url
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(self._serve(ready))
            except BaseException as exc:  # handed to start() in the caller's thread
                failure.append(exc)
                ready.set()

        self._thread = threading.Thread(target=run, name="ospack-emulator", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            error = failure[0]
            raise error if isinstance(error, EmulatorError) else EmulatorError(str(error))
        return self.url

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="ospack-emulator-render") as executor:
            self._state = EmulatorState(self.config, self._clock, executor)
            async with running(self._state, self.host, self.port) as url:
                self._url = url
                ready.set()
                await self._stopping.wait()

    def stop(self) -> None:
        """Stop the server and wait for its thread to end."""
        if self._thread is None:
            return
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=10)
        self._thread = None
        self._url = None

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stats(self) -> dict[str, Any]:
        """The counters of ``GET /__emulator__/stats``, read over HTTP like any client would."""
        with urllib.request.urlopen(f"{self.url}/__emulator__/stats", timeout=10) as response:
            counters: dict[str, Any] = json.loads(response.read())
            return counters

    def reset(self) -> None:
        """Zero the counters, forget rate-limit history and restart the fault sequence."""
        self._post("reset")

    def spend(self, seconds: float, key: str | None = None) -> None:
        """Let another consumer take ``key``'s whole Maps API budget (every key's: None) for ``seconds``."""
        query = f"seconds={seconds:g}" + ("" if key is None else f"&key={urllib.parse.quote(key, safe='')}")
        self._post(f"spend?{query}")

    def _post(self, route: str) -> None:
        request = urllib.request.Request(f"{self.url}/__emulator__/{route}", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass


class running:
    """Async context manager: serve ``state`` on host:port, yielding the base URL."""

    def __init__(self, state: EmulatorState, host: str, port: int) -> None:
        self._runner = web.AppRunner(build_app(state), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        self._host, self._port = host, port

    async def __aenter__(self) -> str:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, backlog=1024)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise EmulatorError(
                f"cannot listen on {self._host}:{self._port} ({exc.strerror or exc}); choose another --port, or 0"
            ) from None
        host, port = self._runner.addresses[0][:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    async def __aexit__(self, *exc_info: object) -> None:
        await self._runner.cleanup()


def serve(config: EmulatorConfig, host: str, port: int, on_ready: Callable[[str], None]) -> None:
    """Serve in the foreground until SIGINT or SIGTERM; call ``on_ready(url)`` once listening."""
    # Rate limits are judged by when the event loop reads a request. Tile rendering runs
    # on threads that hold the GIL for up to the switch interval (5 ms by default), which
    # would delay those readings and make evenly paced clients look bursty to spike arrest.
    sys.setswitchinterval(0.0005)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="ospack-emulator-render") as executor:
            state = EmulatorState(config, WallClock(), executor)
            async with running(state, host, port) as url:
                on_ready(url)
                await stop.wait()

    asyncio.run(main())
