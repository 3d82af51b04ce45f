"""Credentials: API keys (query or header), OAuth2 client-credential tokens that expire.

The three ways a client may authenticate (docs.os.uk/os-apis/core-concepts/authentication):
the ``key`` query parameter (lower-case only), a ``key`` header, or
``Authorization: Bearer <token>`` with a token from ``POST /oauth2/token/v1``.
Failures carry the Apigee gateway's fault strings and error codes.
"""

from __future__ import annotations

import base64
import binascii
import secrets as random_tokens
from collections.abc import Mapping
from dataclasses import dataclass

from ..clock import Clock
from .config import EmulatorConfig, KeySpec


@dataclass(frozen=True)
class AuthFailure:
    """Why a request's credentials were refused (always HTTP 401)."""

    faultstring: str
    errorcode: str


MISSING_KEY = AuthFailure(
    "Failed to resolve API Key variable request.queryparam.key", "steps.oauth.v2.FailedToResolveAPIKey"
)
INVALID_KEY = AuthFailure("Invalid ApiKey", "oauth.v2.InvalidApiKey")
INVALID_TOKEN = AuthFailure("Invalid access token", "oauth.v2.InvalidAccessToken")
EXPIRED_TOKEN = AuthFailure("Access Token expired", "keymanagement.service.access_token_expired")
BAD_CLIENT = AuthFailure("Invalid client identifier", "oauth.v2.InvalidClientIdentifier")
BAD_GRANT = AuthFailure("Unsupported grant type", "oauth.v2.UnsupportedGrantType")


@dataclass(frozen=True)
class Token:
    """An issued access token and the key it stands for."""

    access_token: str
    key: str
    issued_at: float
    expires_at: float


class Authenticator:
    """Resolve a request's credentials to a configured key, and issue tokens.

    Parameters
    ----------
    config : EmulatorConfig
        Keys, secrets and the token lifetime.
    clock : Clock
        Read with ``now()`` for token expiry (wall time in service); tests inject their own.
    """

    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self._keys: dict[str, KeySpec] = {spec.key: spec for spec in config.keys}
        self._secrets = dict(config.secrets)
        self._ttl = config.token_ttl
        self._clock = clock
        self._tokens: dict[str, Token] = {}

    def resolve(self, query: Mapping[str, str], headers: Mapping[str, str]) -> KeySpec | AuthFailure:
        """The key a request authenticates as, or why it cannot.

        ``query`` must keep its names' case: only a lower-case ``key`` counts. An empty
        ``key=`` beside a header key or a Bearer token is ignored (WMTS clients copy the
        capabilities' ``key=`` into every request, empty for such callers).
        """
        key = query.get("key")
        if key == "" and (headers.get("key") or headers.get("Authorization")):
            key = None
        if key is None:
            key = headers.get("key")
        if key is not None:
            spec = self._keys.get(key)
            return spec if spec is not None else INVALID_KEY
        authorization = headers.get("Authorization", "")
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            return self._resolve_token(credential.strip())
        return MISSING_KEY

    def _resolve_token(self, access_token: str) -> KeySpec | AuthFailure:
        token = self._tokens.get(access_token)
        if token is None:
            return INVALID_TOKEN
        if self._clock.now() >= token.expires_at:
            del self._tokens[access_token]
            return EXPIRED_TOKEN
        return self._keys[token.key]

    def client_of(self, authorization: str) -> KeySpec | AuthFailure:
        """Check HTTP Basic ``key:secret`` of a token request."""
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return BAD_CLIENT
        try:
            key, sep, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            key, sep, secret = "", "", ""
        expected = self._secrets.get(key)
        if not sep or expected is None or not random_tokens.compare_digest(expected, secret):
            return BAD_CLIENT
        return self._keys[key]

    def issue(self, spec: KeySpec) -> Token:
        """Issue a fresh token for ``spec`` that expires after the configured lifetime."""
        now = self._clock.now()
        self._drop_expired(now)
        token = Token(random_tokens.token_urlsafe(21), spec.key, now, now + self._ttl)
        self._tokens[token.access_token] = token
        return token

    def token_response(self, token: Token) -> dict[str, str]:
        """The token endpoint's JSON body (values as strings, as OS's docs show them)."""
        return {
            "access_token": token.access_token,
            "expires_in": f"{self._ttl:g}",
            "issued_at": str(int(token.issued_at * 1000)),
            "token_type": "Bearer",
        }

    def _drop_expired(self, now: float) -> None:
        for access_token in [t for t, token in self._tokens.items() if now >= token.expires_at]:
            del self._tokens[access_token]
