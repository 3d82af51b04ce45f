"""Where requests go: the API's endpoints from one root URL, and tile URLs per protocol.

The OS Maps API's raster tiles live under ``{root}/maps/raster/v1`` and its OAuth2
token endpoint at ``{root}/oauth2/token/v1``; one root (``--api-url``) serves both,
so the emulator or a proxy stands in for the real API by changing one value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode, urlsplit

from ..errors import UsageError
from ..types import Tile

DEFAULT_API_URL = "https://api.os.uk"
_MAPS_PATH = "/maps/raster/v1"
_TOKEN_PATH = "/oauth2/token/v1"


@dataclass(frozen=True)
class ApiEndpoints:
    """The OS API's URLs derived from one root such as ``https://api.os.uk``."""

    root: str = DEFAULT_API_URL

    @classmethod
    def from_url(cls, url: str | None = None) -> ApiEndpoints:
        """Endpoints for ``url``: an API root, or a Maps API base ending in ``/maps/raster/v1``."""
        url = (url or DEFAULT_API_URL).strip().rstrip("/")
        parts = urlsplit(url)
        # the URL is not echoed: a careless one may carry a key or a password
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError("the API URL is not an http(s) URL; write e.g. http://127.0.0.1:8080")
        if parts.query or parts.fragment or "@" in parts.netloc:
            raise UsageError("the API URL must not carry a query or credentials; pass the key with --key")
        for suffix in (_MAPS_PATH + "/zxy", _MAPS_PATH + "/wmts", _MAPS_PATH):
            if url.endswith(suffix):
                url = url[: -len(suffix)]
                break
        return cls(url)

    @property
    def origin(self) -> str:
        """``scheme://host[:port]`` of the root; credentials are only ever sent here."""
        parts = urlsplit(self.root)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def maps(self) -> str:
        """Base URL of the raster Maps API."""
        return self.root + _MAPS_PATH

    @property
    def wmts(self) -> str:
        """The WMTS KVP endpoint."""
        return self.maps + "/wmts"

    @property
    def token(self) -> str:
        """The OAuth2 client-credentials token endpoint."""
        return self.root + _TOKEN_PATH

    def capabilities_url(self) -> str:
        """GetCapabilities for WMTS 1.0.0 (credentials travel in headers, not here)."""
        return self.wmts + "?" + urlencode({"service": "WMTS", "request": "GetCapabilities", "version": "1.0.0"})


class TileUrls(Protocol):
    """Builds the request URL of one tile."""

    def url(self, tile: Tile) -> str:
        """The URL that fetches ``tile``."""
        ...


@dataclass(frozen=True)
class ZxyUrls:
    """``{maps}/zxy/{layer}/{z}/{x}/{y}.png`` — x is TileCol and y TileRow on every grid."""

    endpoints: ApiEndpoints
    layer: str

    def url(self, tile: Tile) -> str:
        return f"{self.endpoints.maps}/zxy/{self.layer}/{tile.z}/{tile.x}/{tile.y}.png"
