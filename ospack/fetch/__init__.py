"""Fetch tiles from the OS Maps API: paced, retried, classified, never leaking the key.

Public API::

    stats = await fetch_tiles(tiles, layer=..., credentials=Credentials(key), endpoints=url, settings=FetchSettings())

    async with FetchSession(credentials, url, settings) as session:  # one client, limiter, token
        for layer in layers:
            stats = await session.fetch(tiles_of(layer), layer=layer)
"""

from __future__ import annotations

from .access import ApiAccess
from .auth import Credentials, KeyHeaderAuth, OAuth2ClientCredentials
from .clock import Clock, MonotonicClock
from .outcome import FetchStats, Tally, TileOutcome, ZoomCounts
from .png import png_problem
from .pool import fetch_tiles
from .session import FetchSession
from .settings import DEFAULT_MAX_RETRIES, FetchSettings, RatePolicy
from .throttle import RateLimiter, parse_retry_after
from .transport import ThrottledTransport
from .urls import DEFAULT_API_URL, ApiEndpoints, TileUrls, ZxyUrls
from .wmts import WmtsUrls, parse_capabilities, strip_key

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_MAX_RETRIES",
    "ApiAccess",
    "ApiEndpoints",
    "Clock",
    "Credentials",
    "FetchSession",
    "FetchSettings",
    "FetchStats",
    "KeyHeaderAuth",
    "MonotonicClock",
    "OAuth2ClientCredentials",
    "RateLimiter",
    "RatePolicy",
    "Tally",
    "ThrottledTransport",
    "TileOutcome",
    "TileUrls",
    "WmtsUrls",
    "ZoomCounts",
    "ZxyUrls",
    "fetch_tiles",
    "parse_capabilities",
    "parse_retry_after",
    "png_problem",
    "strip_key",
]
