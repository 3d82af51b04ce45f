"""One HTTP client, one rate limiter and one set of credentials, shared by every fetch of a run.

A :class:`FetchSession` is opened once by the engine (:func:`ospack.package_async`) and each
layer is fetched through it, so the layers of one output share one connection pool, one
OAuth2 token and one rate budget: a 429 seen while fetching one layer slows the next, as the
server counts them together. Each fetch keeps its own tallies and its own stop; the
transport finds them on the request (:data:`RUN_HOOKS`), so several fetches — of several
outputs, later — can share one session without seeing each other's figures.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from types import TracebackType

import httpx

from ..layers import Layer, get_layer
from ..types import Tile
from .auth import Credentials
from .clock import Clock, MonotonicClock
from .ledger import SharedLedger, ledger_for
from .outcome import FetchStats, Tally, TileOutcome
from .settings import FetchSettings
from .tasks import StopSignal
from .throttle import RateLimiter
from .transport import ThrottledTransport, default_transport
from .urls import ApiEndpoints


class FetchSession:
    """Where tiles come from (endpoints, credentials) and how (settings), with the client that fetches them.

    Use as ``async with FetchSession(...) as session: await session.fetch(tiles, layer=...)``.

    Parameters
    ----------
    credentials
        Project key (``key`` header) or key and secret (OAuth2 Bearer tokens).
    endpoints
        API root; default ``https://api.os.uk``. A URL string is accepted.
    settings
        Pace, workers, retries, timeouts, protocol (default :class:`FetchSettings`).
    transport
        Inner httpx transport (``httpx.MockTransport`` in tests); default aiohttp's.
    clock, rng
        Time source for pacing and back-off, and random source for back-off jitter; tests pass fakes.
    """

    def __init__(
        self,
        credentials: Credentials,
        endpoints: ApiEndpoints | str | None = None,
        settings: FetchSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.credentials = credentials
        self.endpoints = endpoints if isinstance(endpoints, ApiEndpoints) else ApiEndpoints.from_url(endpoints)
        self.settings = settings or FetchSettings()
        self.clock = clock or MonotonicClock()
        self.rng = rng or random.Random()
        self.limiter = RateLimiter(self.settings.rate, clock=self.clock, schedule=self._schedule())
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def _schedule(self) -> SharedLedger | None:
        """The machine's ledger for this key and API, when the run is paced and shares its budget.

        Only on the machine's monotonic clock: another process cannot read a fake clock's times.
        """
        rate = self.settings.rate
        if not rate.shared_budget or rate.per_minute is None or type(self.clock) is not MonotonicClock:
            return None
        return ledger_for(self.endpoints.origin, self.credentials.key)

    async def __aenter__(self) -> FetchSession:
        inner = self._transport or default_transport(self.settings.workers)
        self._client = httpx.AsyncClient(
            transport=ThrottledTransport(inner, self.limiter, self.endpoints.maps),
            auth=self.credentials.auth(self.endpoints, clock=self.clock),
            timeout=httpx.Timeout(self.settings.timeout_s),
        )
        await self._client.__aenter__()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.__aexit__(kind, error, trace)

    @property
    def client(self) -> httpx.AsyncClient:
        """The open client; only inside ``async with``."""
        if self._client is None:
            raise RuntimeError("the fetch session is not open; use it as `async with FetchSession(...)`")
        return self._client

    async def fetch(
        self,
        tiles: Iterable[Tile],
        *,
        layer: Layer | str,
        allow_premium: bool = False,
        stop_event: StopSignal | None = None,
        on_outcome: Callable[[TileOutcome], None] | None = None,
        tally: Tally | None = None,
        on_tick: Callable[[], None] | None = None,
    ) -> FetchStats:
        """Fetch ``tiles`` of ``layer`` through this session (see :func:`ospack.fetch.fetch_tiles`)."""
        from .pool import Run  # the pool uses the session's parts; the session only starts runs

        run = Run(
            self,
            layer if isinstance(layer, Layer) else get_layer(layer),
            allow_premium=allow_premium,
            on_outcome=on_outcome,
            tally=tally or Tally(),
            on_tick=on_tick,
        )
        return await run.execute(tiles, stop_event)
