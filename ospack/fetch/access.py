"""Which OS Maps API a run talks to, as whom, and over what: one frozen :class:`ApiAccess` value.

The CLI builds it from ``--api-url``, the key options and ``--demo``; the Python API takes it
whole, as httpx's clients take a ``Timeout``. The key and secret never appear in its ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from ..errors import UsageError
from .auth import Credentials
from .urls import ApiEndpoints


@dataclass(frozen=True)
class ApiAccess:
    """Where tiles come from and who asks for them.

    Parameters
    ----------
    url
        Root URL of the API (default ``https://api.os.uk``), e.g. an emulator's or a proxy's.
        Plain ``http://`` to a host other than loopback is refused unless ``allow_insecure_http``.
    key, secret
        The project API key (default: ``OS_API_KEY``); with a secret (default ``OS_API_SECRET``)
        ospack authenticates with OAuth2 client credentials instead of sending the key.
    allow_insecure_http
        Send the key in clear text to a non-loopback ``http://`` URL.
    demo
        Start the embedded emulator on loopback with a demo key and use it (so ``url``, ``key``
        and ``secret`` must not be given: one of them would be silently ignored).
    transport
        The inner HTTP transport (``httpx.MockTransport`` in tests); default aiohttp's.
    """

    url: str | None = None
    key: str | None = field(default=None, repr=False)
    secret: str | None = field(default=None, repr=False)
    allow_insecure_http: bool = False
    demo: bool = False
    transport: httpx.AsyncBaseTransport | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.demo and (self.url or self.key or self.secret):
            raise UsageError(
                "--demo runs against the built-in emulator with its own key; drop --api-url, --key and --secret,"
                " or drop --demo to use them"
            )

    def endpoints(self) -> ApiEndpoints:
        """The API's URLs (checked: scheme, host, no credentials in the URL)."""
        return ApiEndpoints.from_url(self.url, allow_insecure_http=self.allow_insecure_http)

    def credentials(self) -> Credentials | None:
        """The key (and secret) given, else from the environment; None when there is no key."""
        return Credentials.from_env(self.key, self.secret)
