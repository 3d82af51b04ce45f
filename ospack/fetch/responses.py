"""One request and what came back: a status and a checked body, or why there is none.

Transport faults (timeouts, resets, a token endpoint that failed transiently) and
bodies that are not what the status claims (truncated against Content-Length,
not a whole PNG of the grid's size) become a ``problem`` string, so the pool can
retry them like a 5xx; a connection that could not be made is marked
``unreachable`` (the pool waits for the API as a whole, not per tile), and a
redirect carries where it pointed. Only credentials refused (AuthError), a
stopping pool (RequestDropped) and an overlong Retry-After escape as exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from .auth import TokenUnavailable
from .png import png_problem
from .transport import ConnectFailed, address_of


@dataclass(frozen=True)
class Attempt:
    """The result of one request: ``status`` None when no response arrived."""

    status: int | None
    body: bytes = field(default=b"", repr=False)
    problem: str | None = None
    unreachable: bool = False
    #: for a 3xx: where it pointed, as origin and path only (a query may hold a key)
    redirect: str | None = None

    @property
    def whole(self) -> bool:
        """True for a 200 whose body passed every check."""
        return self.status == 200 and self.problem is None

    @property
    def reason(self) -> str:
        """Why this attempt did not give a tile, in a few words."""
        return self.problem or f"HTTP {self.status}"


async def send(client: httpx.AsyncClient, url: str, extensions: dict[str, object], *, tile_size: int | None) -> Attempt:
    """GET ``url``; with ``tile_size``, a 200 body must be a whole PNG of that size."""
    try:
        response = await client.get(url, extensions=extensions)
    except TokenUnavailable as exc:
        return Attempt(None, problem=str(exc))
    except ConnectFailed as exc:
        return Attempt(None, problem=str(exc), unreachable=True)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        why = "timed out" if isinstance(exc, httpx.ConnectTimeout) else "connection failed"
        return Attempt(None, problem=f"cannot connect to {address_of(httpx.URL(url))} ({why})", unreachable=True)
    except httpx.TimeoutException:
        return Attempt(None, problem="request timed out")
    except httpx.TransportError as exc:
        return Attempt(None, problem=f"connection failed ({type(exc).__name__})")
    body = response.content
    problem = None
    if 300 <= response.status_code < 400:
        return Attempt(response.status_code, body, redirect=_where(response))
    if response.status_code == 200:
        problem = length_problem(response, body)
        if problem is None and tile_size is not None:
            problem = png_problem(body, tile_size)
    return Attempt(response.status_code, body, problem)


def _where(response: httpx.Response) -> str:
    location = response.headers.get("location")
    if not location:
        return "nowhere (no Location header)"
    try:
        target = response.request.url.join(location)
        host = f"[{target.host}]" if ":" in target.host else target.host
        return f"{target.scheme}://{host}{'' if target.port is None else f':{target.port}'}{target.path}"
    except (httpx.InvalidURL, ValueError):
        return "an address that is not a valid URL"


def length_problem(response: httpx.Response, body: bytes) -> str | None:
    """Why ``body`` does not match the response's Content-Length, or None."""
    declared = response.headers.get("content-length")
    if declared is None or response.headers.get("content-encoding"):
        return None
    try:
        expected = int(declared)
    except ValueError:
        return f"unreadable Content-Length {declared!r}"
    if expected != len(body):
        return f"body truncated ({len(body)} of {expected} bytes)"
    return None
