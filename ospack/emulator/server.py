"""Run the emulator: in a background thread (:class:`Emulator`) or in the foreground (:func:`serve`)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

from ..errors import EmulatorError
from .app import EmulatorState, build_app, wall_clock
from .config import EmulatorConfig, KeySpec, check_port, make_config


class Emulator:
    """A local OS Maps API on a real HTTP server, run in a background thread with its own event loop.

    Parameters
    ----------
    host, port : str, int
        Where to listen; port 0 picks a free one.
    keys : iterable of str or KeySpec
        ``KEY[:opendata|premium][:live|dev]`` strings or KeySpec objects.
    enforce : {"sliding", "fixed", "spike"}
        How the per-minute limit is enforced.
    limit : float, optional
        Requests per minute per key per API, overriding the keys' modes (600 live, 50 dev).
    window : float
        Accounting period in seconds; it holds ``rate * window / 60`` requests.
    retry_after : float, optional
        Seconds to send in ``Retry-After`` on 429 (default: no header, like OS).
    premium_status : {401, 403}
        Status for a premium zoom asked for with an OpenData key.
    secrets : mapping of key → secret, optional
        OAuth2 client secrets; a key without one cannot get tokens.
    token_ttl : float
        Lifetime of OAuth2 access tokens in seconds (``expires_in``).
    faults : mapping of name → probability, optional
        Names from ``FAULT_NAMES``: 500, 503, reset, slow, truncate, corrupt, html200, burst429.
    seed : int
        Seed of the fault sequence.
    slow_seconds : float
        Delay of a ``slow`` fault.
    zxy_error_status, wmts_error_status : {400, 404}
        Status for an unknown layer or an out-of-range zoom/column/row.
    wmts_error_format : {"ows", "json"}
        Body of WMTS errors: OWS ExceptionReport or the gateway's JSON fault.
    burst_seconds : float, optional
        Length of a ``burst429`` spell, in which another consumer of the key takes its whole
        budget (default: a third of ``window``).
    strict_style : bool
        Refuse a WMTS ``style`` other than ``default`` with 400 (default: accept any).
    clock : callable, optional
        Seconds as a float for rate limits and token expiry (default ``time.time``).

    Examples
    --------
    >>> with Emulator(keys=["k1:premium"], limit=6000) as emulator:   # doctest: +SKIP
    ...     url = f"{emulator.url}/maps/raster/v1/zxy/Road_3857/7/63/42.png"
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        keys: Iterable[str | KeySpec] = ("demo",),
        enforce: str = "sliding",
        limit: float | None = None,
        window: float = 60.0,
        retry_after: float | None = None,
        premium_status: int = 401,
        secrets: Mapping[str, str] | None = None,
        token_ttl: float = 299.0,
        faults: Mapping[str, float] | None = None,
        seed: int = 0,
        slow_seconds: float = 2.0,
        zxy_error_status: int = 404,
        wmts_error_status: int = 404,
        wmts_error_format: str = "ows",
        burst_seconds: float | None = None,
        strict_style: bool = False,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.config: EmulatorConfig = make_config(
            keys=keys, enforce=enforce, limit=limit, window=window, retry_after=retry_after,
            premium_status=premium_status, secrets=secrets, token_ttl=token_ttl, faults=faults, seed=seed,
            slow_seconds=slow_seconds, zxy_error_status=zxy_error_status, wmts_error_status=wmts_error_status,
            wmts_error_format=wmts_error_format, burst_seconds=burst_seconds, strict_style=strict_style,
        )
        self.host, self.port = host, check_port(port)
        self._clock = clock or wall_clock
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
            return json.loads(response.read())

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


def serve(
    config: EmulatorConfig, host: str, port: int, on_ready: Callable[[str], None]
) -> None:
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
            state = EmulatorState(config, wall_clock, executor)
            async with running(state, host, port) as url:
                on_ready(url)
                await stop.wait()

    asyncio.run(main())
