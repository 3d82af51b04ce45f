"""The HTTP stack, composed: rate limiter around an inner transport.

``ThrottledTransport`` takes a slot from the shared limiter before every request
to the Maps API and reports 429s back to it, so a refusal seen by one worker
pauses and slows down all of them. Token requests go to another API (OAuth2)
and are not paced.

The inner transport is httpx-aiohttp's: on loopback it moves about twice as many
requests per second as httpx's own connection pool (benchmarks/fetch.py).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from .throttle import RateLimiter, parse_retry_after

class RequestDropped(Exception):
    """The pool began stopping while this request waited for its slot; it was not sent."""


#: request extension holding the limiter time at which the request was granted
GRANTED_AT = "ospack.granted_at"


class ThrottledTransport(httpx.AsyncBaseTransport):
    """Pace requests whose URL starts with ``prefix`` through ``limiter``.

    Parameters
    ----------
    inner
        The transport that does the I/O (or ``httpx.MockTransport`` in tests).
    limiter
        Shared by every transport of one fetch.
    prefix
        Only URLs starting with it are paced (the Maps API base).
    on_request
        Called with each paced request just before it is sent (for counting).
    should_send
        Asked after the wait for a slot; False drops the request (RequestDropped),
        so a pool that is stopping sends nothing new.
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        limiter: RateLimiter,
        prefix: str,
        on_request: Callable[[httpx.Request], None] | None = None,
        should_send: Callable[[], bool] | None = None,
    ) -> None:
        self._inner = inner
        self._limiter = limiter
        self._prefix = prefix
        self._on_request = on_request
        self._should_send = should_send

    def __repr__(self) -> str:
        return f"ThrottledTransport({self._limiter!r})"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not str(request.url).startswith(self._prefix):
            return await self._inner.handle_async_request(request)
        granted_at = await self._limiter.acquire()
        if self._should_send is not None and not self._should_send():
            raise RequestDropped(str(request.url.copy_with(query=None)))
        request.extensions[GRANTED_AT] = granted_at
        if self._on_request is not None:
            self._on_request(request)
        response = await self._inner.handle_async_request(request)
        if response.status_code == 429:
            self._limiter.rate_limited(granted_at, parse_retry_after(response.headers.get("Retry-After")))
        else:
            self._limiter.succeeded()
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def default_transport(connections: int) -> httpx.AsyncBaseTransport:
    """The I/O transport used when none is injected: aiohttp under httpx."""
    from httpx_aiohttp import AiohttpTransport

    return AiohttpTransport(
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    )
