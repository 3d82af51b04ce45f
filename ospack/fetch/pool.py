"""The worker pool: tiles in (streamed), one outcome per tile out, figures at the end.

A producer feeds tiles from the caller's iterator into a small bounded queue, so
memory does not grow with the job. Workers share one client, whose transport
paces every request through one rate limiter. Each response is classified:

===========================  ==============================================
200 + whole 256×256 PNG      ok
429                          pool pauses (limiter); tile retried, never lost
400, 404                     absent, not retried
401 / 403 on a premium zoom  the plan lacks Premium: no more premium tiles;
                             open ones go on, then PremiumError
401 / 403 otherwise          AuthError at once, no new requests
3xx                          DownloadError at once naming where it pointed
no connection (refused,      pool waits and tries again; after a few rounds
unknown host)                DownloadError "cannot connect to HOST:PORT"
5xx, other statuses,         retried with back-off up to ``max_retries``,
timeouts, dropped            then failed (never returned as data)
connections, bad bodies
===========================  ==============================================
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable
from enum import Enum, auto

import httpx

from ..errors import AuthError, DownloadError
from ..layers import Layer
from ..types import Tile
from .auth import Credentials
from .clock import Clock
from .halts import (
    ConnectionWatch,
    auth_refused,
    premium_not_allowed,
    premium_refused,
    redirect_error,
    refuses_credentials,
    retry_after_error,
)
from .outcome import FetchStats, Tally, TileOutcome
from .responses import Attempt, send
from .session import FetchSession
from .settings import FetchSettings
from .tasks import StopSignal, produce, tick, until_done, watch
from .transport import RUN_HOOKS, RequestDropped, RetryAfterTooLong
from .urls import ApiEndpoints, TileUrls, ZxyUrls
from .wmts import parse_capabilities

_PREMIUM = "ospack.premium"


class _Skipped(Enum):
    """A tile left out without an outcome (premium zooms of a plan without Premium access)."""

    SKIPPED = auto()


_SKIPPED = _Skipped.SKIPPED


async def fetch_tiles(
    tiles: Iterable[Tile],
    *,
    layer: Layer | str,
    credentials: Credentials,
    endpoints: ApiEndpoints | str | None = None,
    settings: FetchSettings | None = None,
    allow_premium: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    stop_event: StopSignal | None = None,
    on_outcome: Callable[[TileOutcome], None] | None = None,
    tally: Tally | None = None,
    on_tick: Callable[[], None] | None = None,
) -> FetchStats:
    """Fetch ``tiles`` of ``layer`` from the OS Maps API, paced and retried, in a session of its own.

    To fetch several layers with one client, limiter and token, open one
    :class:`~ospack.fetch.session.FetchSession` and call its ``fetch`` for each.

    Parameters
    ----------
    tiles
        Tiles to fetch, consumed lazily (a generator over millions is fine).
    layer
        The layer (or its name).
    credentials, endpoints, settings, transport, clock, rng
        As :class:`~ospack.fetch.session.FetchSession` takes them.
    allow_premium
        Without it, tiles on premium zooms are reported failed and never requested.
    stop_event
        When set (Ctrl-C), no new tile is started; in-flight ones finish or are dropped.
    on_outcome
        Called in the event loop with each tile's outcome as it completes.
    tally
        Where the figures are counted; pass one to read requests, retries, 429s,
        outcomes and pauses live (for progress lines) while the fetch runs.
    on_tick
        Called in the event loop about once a second while the fetch runs, so a
        progress line keeps moving (and says why) while the pool is paused.

    Returns
    -------
    FetchStats
        Requests, retries, 429s, per-zoom ok/absent/failed, elapsed time.

    Raises
    ------
    AuthError
        The API refused the key (401/403 on a non-premium zoom, or the token
        endpoint refused key and secret). Its ``stats`` holds the figures so far
        (as for every error below; see :class:`~ospack.errors.DownloadError`).
    PremiumError
        With ``allow_premium``, the API refused a premium zoom: the plan has no Premium
        access. Raised once the open zooms are fetched; no premium tile is returned.
    DownloadError
        The API cannot be reached, redirected, asked to wait longer than the rate policy's
        ``max_retry_after_s``, or WMTS capabilities could not be read.
    """
    async with FetchSession(credentials, endpoints, settings, transport=transport, clock=clock, rng=rng) as session:
        return await session.fetch(
            tiles,
            layer=layer,
            allow_premium=allow_premium,
            stop_event=stop_event,
            on_outcome=on_outcome,
            tally=tally,
            on_tick=on_tick,
        )


class Run:
    """State of one fetch through a session: tallies, connection watch, premium refusal, abort reason."""

    def __init__(
        self,
        session: FetchSession,
        layer: Layer,
        *,
        allow_premium: bool,
        on_outcome: Callable[[TileOutcome], None] | None,
        tally: Tally,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        self.session = session
        self.layer = layer
        self.credentials = session.credentials
        self.endpoints = session.endpoints
        self.limiter = session.limiter
        self.clock = session.clock
        self.settings = session.settings
        self.max_retries = session.settings.max_retries
        self.allow_premium = allow_premium
        self.rng = session.rng
        self.on_outcome = on_outcome
        self.on_tick = on_tick
        self.stats = tally
        tally.limiter = session.limiter
        self.premium_refusal: tuple[int, int] | None = None  # (zoom, status) of the first refusal
        self.premium_skipped = 0
        self.connection = ConnectionWatch(session.clock)
        self.abort: DownloadError | None = None
        self.stopping = asyncio.Event()
        self.grace_s = 2.0
        self.urls: TileUrls = ZxyUrls(session.endpoints, layer.name)

    # -- hooks for the transport ----------------------------------------------------

    def count_request(self, request: httpx.Request) -> None:
        if self.stats.first_request_at is None:
            self.stats.first_request_at = self.clock.now()
        self.stats.requests += 1
        if request.extensions.get(_PREMIUM):
            self.stats.premium_requests += 1

    def accepting(self) -> bool:
        return not self.stopping.is_set()

    # -- the run --------------------------------------------------------------------

    async def execute(self, tiles: Iterable[Tile], stop_event: StopSignal | None) -> FetchStats:
        client, workers = self.session.client, self.settings.workers
        started = self.clock.now()
        watchers = [asyncio.create_task(watch(stop_event, self.stopping))] if stop_event is not None else []
        if self.on_tick is not None:
            watchers.append(asyncio.create_task(tick(self.on_tick)))
        try:
            if self.settings.protocol == "wmts":
                self.urls = await self._capabilities(client)
            queue: asyncio.Queue[Tile | None] = asyncio.Queue(maxsize=2 * workers)
            producer = asyncio.create_task(produce(tiles, queue, workers, self.stopping))
            pool = [asyncio.create_task(self._work(client, queue)) for _ in range(workers)]
            await until_done(pool, self.stopping, self.grace_s)
            producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)
            failure = None if producer.cancelled() else producer.exception()
            if failure is not None:
                raise failure
        finally:
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
        stopped = self.stopping.is_set() and self.abort is None
        stats = self.stats.freeze(self.clock.now() - started, stopped=stopped)
        error: DownloadError | None = self.abort
        if error is None and self.premium_refusal is not None:
            error = premium_refused(self.layer, *self.premium_refusal, skipped=self.premium_skipped)
        if error is not None:
            error.stats = stats
            raise error
        return stats

    async def _work(self, client: httpx.AsyncClient, queue: asyncio.Queue[Tile | None]) -> None:
        while True:
            tile = await queue.get()
            if tile is None or self.stopping.is_set():
                return
            outcome = await self._fetch_tile(client, tile)
            if outcome is None:
                return
            if outcome is _SKIPPED:
                continue
            self.stats.record(outcome, self.layer.name)
            if self.on_outcome is not None:
                self.on_outcome(outcome)

    async def _fetch_tile(self, client: httpx.AsyncClient, tile: Tile) -> TileOutcome | _Skipped | None:
        """The tile's outcome; ``_SKIPPED``; or None when the pool is stopping (nothing to report)."""
        premium = self.layer.is_premium(tile.z)
        if premium and not self.allow_premium:
            return TileOutcome(tile, "failed", reason=premium_not_allowed(self.layer, tile.z))
        if premium and self.premium_refusal is not None:
            self.premium_skipped += 1
            return _SKIPPED
        url = self.urls.url(tile)
        extensions: dict[str, object] = {RUN_HOOKS: self, _PREMIUM: premium}
        sent = 0
        for failures in range(self.max_retries + 1):
            while True:
                response = await self._attempt(client, url, extensions, png=True)
                if response is None:
                    return None
                sent += 1
                if response.status != 429:
                    break
                self.stats.rate_limited += 1
                self.stats.retries += 1
            status = response.status
            if response.whole:
                return TileOutcome(tile, "ok", data=response.body, attempts=sent)
            if status in (400, 404):
                return TileOutcome(tile, "absent", reason=f"HTTP {status}", attempts=sent)
            if status in (401, 403):
                if not premium or refuses_credentials(response.body):
                    self._abort(auth_refused(status, self.credentials.uses_oauth2))
                    return None
                if self.premium_refusal is None:
                    self.premium_refusal = (tile.z, status)
                self.premium_skipped += 1
                return _SKIPPED
            reason = response.reason
            if failures < self.max_retries:
                self.stats.retries += 1
                await self._backoff(failures + 1, reason)
                if self.stopping.is_set():
                    return None
        return TileOutcome(tile, "failed", reason=f"{reason} after {sent} attempts", attempts=sent)

    async def _attempt(
        self, client: httpx.AsyncClient, url: str, extensions: dict[str, object], *, png: bool
    ) -> Attempt | None:
        """One request that reached the API; None when the pool is stopping (or aborted).

        A connection that cannot be made is not an attempt: the pool waits for the API
        (every worker, through the limiter) and tries again, until the watch gives up.
        Redirects end the fetch here too.
        """
        while not self.stopping.is_set():
            try:
                response = await send(client, url, extensions, tile_size=self.layer.grid.tile_size if png else None)
            except RequestDropped:
                return None
            except RetryAfterTooLong as exc:
                self.stats.rate_limited += 1
                self._abort(retry_after_error(exc.seconds, exc.cap, self.stats.tiles_ok))
                return None
            except AuthError as exc:
                self._abort(exc)
                return None
            if not response.unreachable:
                if response.status is not None:
                    self.connection.answered()
                if response.redirect is not None:
                    self._abort(redirect_error(response.status, response.redirect))
                    return None
                return response
            wait = self.connection.failed()
            if wait is None:
                self._abort(self.connection.give_up(response.reason))
                return None
            self.limiter.hold(wait, f"{response.reason}; trying again")
        return None

    async def _capabilities(self, client: httpx.AsyncClient) -> TileUrls:
        url = self.endpoints.capabilities_url()
        reason = "no answer"
        for failures in range(self.max_retries + 1):
            response = await self._attempt(client, url, {RUN_HOOKS: self}, png=False)
            if response is None:
                if self.abort is not None:
                    raise self.abort
                raise DownloadError("stopped before the WMTS capabilities were read")
            if response.whole:
                return parse_capabilities(response.body, self.layer, self.endpoints)
            reason = response.reason
            if response.status in (401, 403):
                raise self._abort(auth_refused(response.status, self.credentials.uses_oauth2))
            if response.status in (400, 404):
                break
            if response.status == 429:
                self.stats.rate_limited += 1
            elif failures < self.max_retries:
                await self._backoff(failures + 1, response.reason)
        raise DownloadError(f"could not read the WMTS capabilities from {self.endpoints.wmts} ({reason})")

    async def _backoff(self, retry: int, reason: str) -> None:
        delay = min(30.0, self.settings.retry_backoff_s * 2 ** (retry - 1)) * self.rng.uniform(0.5, 1.0)
        waits, key = self.stats.retry_waits, id(asyncio.current_task())
        waits[key] = (self.clock.now() + delay, reason)  # for the progress line: what this tile waits for
        try:
            await self.clock.sleep(delay)
        finally:
            del waits[key]

    def _abort(self, error: DownloadError) -> DownloadError:
        """Stop the pool for ``error``; the error it stops for (the first one given) is returned."""
        if self.abort is None:
            self.abort = error
        self.stopping.set()
        return self.abort
