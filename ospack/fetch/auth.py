"""Credentials for the OS Maps API as httpx auth flows.

A project key travels in the ``key`` header, never in a URL. With a secret too,
the key and secret buy an OAuth2 Bearer token (client-credentials grant) that is
shared by every request, refreshed shortly before it expires, and refreshed once
more if the API answers 401 to a token it has already dropped.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass, field

import httpx

from ..errors import AuthError, DownloadError
from .clock import Clock, MonotonicClock
from .urls import ApiEndpoints


@dataclass(frozen=True)
class Credentials:
    """An OS Data Hub project key, and its secret when OAuth2 is wanted.

    The repr never shows either value.
    """

    key: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.key or not self.key.strip():
            raise AuthError("no API key given; pass --key or set OS_API_KEY")

    def __repr__(self) -> str:
        kind = "oauth2" if self.secret else "key"
        return f"Credentials(kind={kind!r}, key='***')"

    @classmethod
    def from_env(cls, key: str | None = None, secret: str | None = None) -> Credentials | None:
        """The key and secret given, else ``OS_API_KEY`` and ``OS_API_SECRET``; None when there is no key.

        The one place ospack reads credentials from the environment. None is not an error
        here: a run with nothing to fetch (a complete package) needs no key.
        """
        key = key or os.environ.get("OS_API_KEY")
        secret = secret or os.environ.get("OS_API_SECRET")
        if not key or not key.strip():
            return None
        return cls(key=key, secret=secret or None)

    @property
    def uses_oauth2(self) -> bool:
        """True when a secret is present and requests carry Bearer tokens."""
        return bool(self.secret)

    def auth(self, endpoints: ApiEndpoints, clock: Clock | None = None) -> httpx.Auth:
        """The httpx auth flow that applies these credentials to requests for ``endpoints``."""
        if self.secret:
            return OAuth2ClientCredentials(self.key, self.secret, endpoints, clock=clock)
        return KeyHeaderAuth(self.key, endpoints)


class TokenUnavailable(DownloadError):
    """The token endpoint failed transiently (5xx, bad body); the request may be retried."""


class KeyHeaderAuth(httpx.Auth):
    """Send the project key in the ``key`` header."""

    def __init__(self, key: str, endpoints: ApiEndpoints) -> None:
        self._key = key
        self._endpoints = endpoints

    def __repr__(self) -> str:
        return "KeyHeaderAuth(key='***')"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._endpoints.receives_credentials(request.url):
            request.headers["key"] = self._key
        yield request


class OAuth2ClientCredentials(httpx.Auth):
    """Bearer tokens from ``POST {root}/oauth2/token/v1`` (HTTP Basic key:secret).

    Parameters
    ----------
    key, secret
        The project's API key and secret.
    endpoints
        Where the token endpoint and the API live.
    clock
        Time source for expiry; tests inject a fake one.
    refresh_before
        Seconds before expiry at which a token is replaced (at most a quarter of its
        lifetime); it covers the wait for a rate-limiter slot after the token is attached.
    """

    def __init__(
        self,
        key: str,
        secret: str,
        endpoints: ApiEndpoints,
        *,
        clock: Clock | None = None,
        refresh_before: float = 30.0,
    ) -> None:
        self._basic = httpx.BasicAuth(key, secret)
        self._endpoints = endpoints
        self._clock = clock or MonotonicClock()
        self._refresh_before = refresh_before
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return "OAuth2ClientCredentials(key='***', secret='***')"

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise DownloadError("OAuth2 credentials work with the async fetcher only")

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if not self._endpoints.receives_credentials(request.url) or request.url == self._endpoints.token:
            yield request
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._token is None or self._clock.now() >= self._refresh_at:
                token_response = yield self._token_request()
                await self._store(token_response)
        used = self._token
        request.headers["Authorization"] = f"Bearer {used}"
        response = yield request
        if response.status_code != 401:
            return
        # The API dropped the token early (or it expired in flight): renew it once
        # (unless another request already has) and repeat the request once.
        async with self._lock:
            if self._token == used:
                token_response = yield self._token_request()
                await self._store(token_response)
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def _token_request(self) -> httpx.Request:
        request = httpx.Request(
            "POST",
            self._endpoints.token,
            data={"grant_type": "client_credentials"},
            headers={"Accept": "application/json"},
        )
        return next(self._basic.auth_flow(request))

    async def _store(self, response: httpx.Response) -> None:
        await response.aread()
        status = response.status_code
        if status in (400, 401, 403):
            raise AuthError(
                f"the OS API token endpoint refused the key and secret (HTTP {status}); "
                "check --key and --secret (or OS_API_KEY and OS_API_SECRET)"
            )
        if status != 200:
            raise TokenUnavailable(f"the OS API token endpoint answered HTTP {status}")
        try:
            payload = response.json()
            token = str(payload["access_token"])
            lifetime = float(payload.get("expires_in", 299))
        except (ValueError, KeyError, TypeError):
            raise TokenUnavailable("the OS API token endpoint sent no usable access_token") from None
        if not token or lifetime <= 0:
            raise TokenUnavailable("the OS API token endpoint sent an empty or expired token")
        self._token = token
        self._refresh_at = self._clock.now() + lifetime - min(self._refresh_before, lifetime / 4)
