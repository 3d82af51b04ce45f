"""Where requests go: the API's endpoints from one root URL, and tile URLs per protocol.

The OS Maps API's raster tiles live under ``{root}/maps/raster/v1`` and its OAuth2
token endpoint at ``{root}/oauth2/token/v1``; one root (``--api-url``) serves both,
so the emulator or a proxy stands in for the real API by changing one value. The
root is an origin (``scheme://host[:port]``): no path, credentials or query, which
could carry a secret into request logs and the file's provenance.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import SplitResult, urlencode, urlsplit

from ..errors import ApiUrlError
from ..types import Tile

DEFAULT_API_URL = "https://api.os.uk"
_MAPS_PATH = "/maps/raster/v1"
_TOKEN_PATH = "/oauth2/token/v1"


@dataclass(frozen=True)
class ApiEndpoints:
    """The OS API's URLs derived from one root such as ``https://api.os.uk``."""

    root: str = DEFAULT_API_URL

    @classmethod
    def from_url(cls, url: str | None = None, *, allow_insecure_http: bool = False) -> ApiEndpoints:
        """Endpoints for ``url``: an API root, or a Maps API base ending in ``/maps/raster/v1``.

        Plain ``http://`` is refused for any host but loopback, where the key would cross a
        network in clear text, unless ``allow_insecure_http`` says the user knows.

        Raises
        ------
        ApiUrlError
            For a malformed URL (its text is never echoed: it may carry a key or a password).
        """
        url = (url if url is not None else DEFAULT_API_URL).strip().rstrip("/")
        parts = _split(url)
        if parts.scheme == "http" and not allow_insecure_http and not is_loopback(parts.hostname or ""):
            raise ApiUrlError(
                f"the API URL is plain http to {parts.hostname}, which would send the key in clear text;"
                " use https://, or pass --allow-insecure-http if this network is trusted"
            )
        # Any other path is refused: it may hide a secret, and every request URL (which HTTP
        # libraries log) would carry it. Only the origin remains, and only it is recorded.
        if parts.path.rstrip("/") not in ("", _MAPS_PATH, _MAPS_PATH + "/zxy", _MAPS_PATH + "/wmts"):
            raise ApiUrlError(
                f"the API URL must be a root such as https://api.os.uk, optionally ending {_MAPS_PATH};"
                " give it without any other path"
            )
        return cls(f"{parts.scheme}://{parts.netloc}")

    @property
    def origin(self) -> str:
        """``scheme://host[:port]`` of the root; credentials are only ever sent here."""
        parts = urlsplit(self.root)
        return f"{parts.scheme}://{parts.netloc}"

    def receives_credentials(self, url: object) -> bool:
        """True when ``url`` goes to this root's origin: the one place a key or token may be sent.

        The auth flows ask it of every request, and the WMTS reader of the GetTile address a
        capabilities document names (a proxy may echo its upstream's).
        """
        return origin_of(str(url)) == origin_of(self.root)

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


def _split(url: str) -> SplitResult:
    """``url`` split and checked: http(s), a host, a valid port, no credentials, query or fragment."""
    what = "write e.g. https://api.os.uk or http://127.0.0.1:8080"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # an unclosed [ or a port that is not a number from 0 to 65535
        raise ApiUrlError(f"the API URL is malformed (its host or port cannot be read); {what}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ApiUrlError(f"the API URL is not an http(s) URL; {what}")
    if "@" in parts.netloc or parts.query or parts.fragment or "?" in url or "#" in url:
        raise ApiUrlError(
            "the API URL must not carry credentials, a query or a fragment; give the key in OS_API_KEY or --key-file"
        )
    if any(c.isspace() for c in url):
        raise ApiUrlError(f"the API URL contains a space or line break; {what}")
    if not parts.hostname or port == 0 or parts.netloc.endswith(":"):
        raise ApiUrlError(f"the API URL has no host or an empty or zero port; {what}")
    return parts


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, normalised (case, default port) so equal origins compare equal."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ""
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    host = f"[{host}]" if ":" in host else host
    shown = "" if port is None or _DEFAULT_PORTS.get(scheme) == port else f":{port}"
    return f"{scheme}://{host}{shown}"


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1``: traffic that never leaves this machine."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
