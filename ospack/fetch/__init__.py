"""Fetch tiles from the OS Maps API: paced, retried, classified, never leaking the key.

Public API::

    stats = await fetch_tiles(tiles, layer=..., credentials=Credentials(key), endpoints=ApiEndpoints.from_url(url))
"""

from __future__ import annotations

from .auth import Credentials, KeyHeaderAuth, OAuth2ClientCredentials
from .clock import Clock, MonotonicClock
from .outcome import FetchStats, StatsRecorder, TileOutcome, ZoomCounts
from .png import png_problem
from .pool import fetch_tiles, fetch_tiles_sync
from .throttle import RateLimiter, parse_retry_after
from .transport import ThrottledTransport
from .urls import DEFAULT_API_URL, ApiEndpoints, TileUrls, ZxyUrls
from .wmts import WmtsUrls, parse_capabilities, strip_key

__all__ = [
    "DEFAULT_API_URL",
    "ApiEndpoints",
    "Clock",
    "Credentials",
    "FetchStats",
    "KeyHeaderAuth",
    "MonotonicClock",
    "OAuth2ClientCredentials",
    "RateLimiter",
    "StatsRecorder",
    "ThrottledTransport",
    "TileOutcome",
    "TileUrls",
    "WmtsUrls",
    "ZoomCounts",
    "ZxyUrls",
    "fetch_tiles",
    "fetch_tiles_sync",
    "parse_capabilities",
    "parse_retry_after",
    "png_problem",
    "strip_key",
]
