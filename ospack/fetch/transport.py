"""The HTTP stack, composed: rate limiter around an inner transport.

``ThrottledTransport`` takes a slot from the shared limiter before every request
to the Maps API and reports 429s back to it, so a refusal seen by one worker
pauses and slows down all of them. Token requests go to another API (OAuth2)
and are not paced.

The inner transport is httpx-aiohttp's: on loopback it moves about twice as many
requests per second as httpx's own connection pool (benchmarks/fetch.py). It maps
every aiohttp ``ClientConnectionError`` (a refused connection, an unknown host, a
server that dropped the connection) to httpx's ``ConnectTimeout``, so an API that
cannot be reached looked like a slow one; :class:`ConnectionErrorsMapped` maps them
to what they are, so the pool can tell an unreachable API from a timeout.
"""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator
from typing import Protocol

import httpx

from .throttle import RateLimiter, parse_retry_after


class RequestDropped(Exception):
    """The pool began stopping while this request waited for its slot; it was not sent."""


class RetryAfterTooLong(Exception):
    """A 429 asked to wait longer than the limiter's ``max_retry_after``; the pool stops instead."""

    def __init__(self, seconds: float, cap: float) -> None:
        super().__init__(f"Retry-After {seconds:g} s exceeds {cap:g} s")
        self.seconds, self.cap = seconds, cap


class ConnectFailed(httpx.ConnectError):
    """No connection could be made to ``address`` (refused, unknown host, unreachable, timed out)."""

    def __init__(self, address: str, why: str, request: httpx.Request | None = None) -> None:
        super().__init__(f"cannot connect to {address} ({why})", request=request)
        self.address, self.why = address, why


def address_of(url: httpx.URL) -> str:
    """``HOST:PORT`` of ``url`` (never its user info, path or query, which may hold a secret)."""
    host = url.host
    port = url.port or {"https": 443, "http": 80}.get(url.scheme, 0)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


#: request extension holding the limiter time at which the request was granted
GRANTED_AT = "ospack.granted_at"
#: request extension holding the :class:`RunHooks` of the fetch that sent the request
RUN_HOOKS = "ospack.run"


class RunHooks(Protocol):
    """What the transport asks of the fetch a paced request belongs to."""

    def accepting(self) -> bool:
        """False once the fetch is stopping: a request that waited for its slot is then dropped."""
        ...

    def count_request(self, request: httpx.Request) -> None:
        """Called with each paced request just before it is sent (for counting)."""
        ...


class ThrottledTransport(httpx.AsyncBaseTransport):
    """Pace requests whose URL starts with ``prefix`` through ``limiter``.

    Parameters
    ----------
    inner
        The transport that does the I/O (or ``httpx.MockTransport`` in tests).
    limiter
        Shared by every fetch of one session.
    prefix
        Only URLs starting with it are paced (the Maps API base).

    A request carrying :data:`RUN_HOOKS` is counted by, and dropped when stopping by, that
    fetch: the hooks travel with the request, so fetches sharing this transport stay apart.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, limiter: RateLimiter, prefix: str) -> None:
        self._inner = inner
        self._limiter = limiter
        self._prefix = prefix

    def __repr__(self) -> str:
        return f"ThrottledTransport({self._limiter!r})"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not str(request.url).startswith(self._prefix):
            return await self._inner.handle_async_request(request)
        hooks: RunHooks | None = request.extensions.get(RUN_HOOKS)
        granted_at = await self._limiter.acquire()
        if hooks is not None and not hooks.accepting():
            raise RequestDropped(str(request.url.copy_with(query=None)))
        request.extensions[GRANTED_AT] = granted_at
        if hooks is not None:
            hooks.count_request(request)
        response = await self._inner.handle_async_request(request)
        if response.status_code == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None and retry_after > self._limiter.max_retry_after:
                await response.aclose()
                raise RetryAfterTooLong(retry_after, self._limiter.max_retry_after)
            self._limiter.rate_limited(granted_at, retry_after)
        else:
            self._limiter.succeeded()
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def default_transport(connections: int) -> httpx.AsyncBaseTransport:
    """The I/O transport used when none is injected: aiohttp under httpx, its errors mapped."""
    from httpx_aiohttp import AiohttpTransport

    return ConnectionErrorsMapped(
        AiohttpTransport(limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections))
    )


class ConnectionErrorsMapped(httpx.AsyncBaseTransport):
    """Re-map the httpx errors httpx-aiohttp raises, by their aiohttp cause, on requests and bodies."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.TransportError as exc:
            raise remap_error(exc, request) from exc
        if isinstance(response.stream, httpx.AsyncByteStream):  # always, from an async transport
            response.stream = _MappedStream(response.stream, request)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _MappedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, request: httpx.Request) -> None:
        self._inner, self._request = inner, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except httpx.TransportError as exc:
            raise remap_error(exc, self._request) from exc

    async def aclose(self) -> None:
        await self._inner.aclose()


def remap_error(exc: httpx.TransportError, request: httpx.Request) -> httpx.TransportError:
    """The httpx error that says what the aiohttp error behind ``exc`` was."""
    import aiohttp

    cause = exc.__cause__
    if isinstance(cause, aiohttp.ClientConnectorError):  # refused, unknown host, unreachable, TLS refused
        return ConnectFailed(address_of(request.url), _connect_reason(cause), request=request)
    if isinstance(cause, aiohttp.ConnectionTimeoutError):
        return ConnectFailed(address_of(request.url), "timed out", request=request)
    if isinstance(cause, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError("the server closed the connection", request=request)
    if isinstance(cause, aiohttp.ClientConnectionError) and isinstance(exc, httpx.ConnectTimeout):
        return httpx.ReadError(f"connection lost ({type(cause).__name__})", request=request)
    return exc


def _connect_reason(cause: Exception) -> str:
    import aiohttp

    if isinstance(cause, getattr(aiohttp, "ClientConnectorDNSError", ())):
        return "host name not found"
    if isinstance(cause, aiohttp.ClientConnectorCertificateError):
        return "its TLS certificate was not accepted"
    if isinstance(cause, aiohttp.ClientSSLError):
        return "TLS handshake failed"
    os_error = getattr(cause, "os_error", None)
    if isinstance(os_error, OSError):
        if os_error.errno == errno.ECONNREFUSED:
            return "connection refused"
        if isinstance(os_error, TimeoutError):
            return "timed out"
        if os_error.strerror:
            return os_error.strerror.lower()
    return type(cause).__name__
