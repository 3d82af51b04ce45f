"""Credentials: key header, OAuth2 client credentials with refresh before expiry and after a 401."""

from __future__ import annotations

import asyncio
import base64
from urllib.parse import parse_qs

import httpx
import pytest

from ospack.errors import AuthError
from ospack.fetch import ApiEndpoints, Credentials, OAuth2ClientCredentials
from ospack.testing import FakeClock

ENDPOINTS = ApiEndpoints.from_url("http://127.0.0.1:8765")
TILE = ENDPOINTS.maps + "/zxy/Road_27700/7/1/1.png"


class TokenServer:
    """A mock API: issues tokens that it honours for ``lifetime`` seconds of the fake clock."""

    def __init__(self, clock: FakeClock, lifetime=300, as_string=False, revoke_after=None):
        self.clock = clock
        self.lifetime = lifetime
        self.as_string = as_string
        self.revoke_after = revoke_after
        self.issued: dict[str, float] = {}
        self.token_posts: list[httpx.Request] = []
        self.api_calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token/v1":
            self.token_posts.append(request)
            token = f"tok{len(self.issued)}"
            self.issued[token] = self.clock.now() + self.lifetime
            expires = str(self.lifetime) if self.as_string else self.lifetime
            return httpx.Response(200, json={"access_token": token, "expires_in": expires, "token_type": "Bearer"})
        self.api_calls.append(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        expiry = self.issued.get(token)
        if expiry is None or self.clock.now() >= expiry:
            return httpx.Response(401)
        if self.revoke_after is not None and len(self.api_calls) == self.revoke_after:
            self.issued[token] = self.clock.now()  # dropped early by the server
            return httpx.Response(401)
        return httpx.Response(200, text="ok")


def get_many(server, credentials, times):
    """GET the tile URL at each fake time; returns statuses."""

    async def main():
        auth = credentials.auth(ENDPOINTS, clock=server.clock)
        async with httpx.AsyncClient(transport=httpx.MockTransport(server), auth=auth) as client:
            statuses = []
            for at in times:
                server.clock.advance(at - server.clock.now())
                statuses.append((await client.get(TILE)).status_code)
            return statuses

    return asyncio.run(main())


def test_key_goes_in_the_header_and_only_to_the_api_host():
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200)

    async def main():
        auth = Credentials("k3y").auth(ENDPOINTS)
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=auth) as client:
            await client.get(TILE)
            await client.get("http://elsewhere.test/x")

    asyncio.run(main())
    assert seen[0].headers["key"] == "k3y" and "k3y" not in str(seen[0].url)
    assert "key" not in seen[1].headers


def test_oauth2_token_request_shape_and_reuse():
    server = TokenServer(FakeClock())
    assert get_many(server, Credentials("KEY1", "SECRET1"), [0, 1, 2, 100]) == [200] * 4
    assert len(server.token_posts) == 1
    post = server.token_posts[0]
    assert post.method == "POST" and str(post.url) == "http://127.0.0.1:8765/oauth2/token/v1"
    assert post.headers["Authorization"] == "Basic " + base64.b64encode(b"KEY1:SECRET1").decode()
    assert parse_qs(post.content.decode()) == {"grant_type": ["client_credentials"]}
    assert all(r.headers["Authorization"] == "Bearer tok0" for r in server.api_calls)
    assert all("key" not in r.headers for r in server.api_calls)


@pytest.mark.parametrize("as_string", [False, True])
def test_token_is_refreshed_before_it_expires(as_string):
    server = TokenServer(FakeClock(), lifetime=299, as_string=as_string)
    statuses = get_many(server, Credentials("KEY1", "SECRET1"), [0, 100, 250, 268, 275, 290, 400, 560])
    assert statuses == [200] * 8
    assert len(server.token_posts) == 3  # at 0, at 275 (299 - 30), at 560
    assert len(server.api_calls) == 8  # never a request with an expired token


def test_token_dropped_mid_run_is_renewed_once_and_the_request_repeated():
    server = TokenServer(FakeClock(), revoke_after=3)
    statuses = get_many(server, Credentials("KEY1", "SECRET1"), [0, 1, 2, 3, 4])
    assert statuses == [200] * 5
    assert len(server.token_posts) == 2
    assert len(server.api_calls) == 6  # the refused request was repeated once


def test_a_401_that_persists_is_returned_after_one_renewal():
    paths = []

    def handler(request):
        paths.append(request.url.path)
        if request.url.path == "/oauth2/token/v1":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 300})
        return httpx.Response(401)

    assert get_many(handler_server(handler, FakeClock()), Credentials("K", "S"), [0]) == [401]
    assert paths.count("/oauth2/token/v1") == 2 and len(paths) == 4


def handler_server(handler, clock):
    class Wrapped:
        def __init__(self):
            self.clock = clock
            self.calls = 0

        def __call__(self, request):
            self.calls += 1
            return handler(request)

    return Wrapped()


@pytest.mark.parametrize("status", [400, 401])
def test_token_endpoint_refusal_is_an_auth_error_without_secrets(status):
    def handler(request):
        return httpx.Response(status, json={"error": "invalid_client"})

    with pytest.raises(AuthError) as caught:
        get_many(handler_server(handler, FakeClock()), Credentials("KEY1", "SECRET1"), [0])
    assert "--secret" in str(caught.value)
    assert "KEY1" not in str(caught.value) and "SECRET1" not in str(caught.value)


def test_reprs_hide_credentials():
    auth = OAuth2ClientCredentials("KEY1", "SECRET1", ENDPOINTS)
    for text in (repr(auth), repr(Credentials("KEY1", "SECRET1")), repr(Credentials("KEY1").auth(ENDPOINTS))):
        assert "KEY1" not in text and "SECRET1" not in text


def test_credentials_resolve_from_the_arguments_then_the_environment(monkeypatch):
    monkeypatch.setenv("OS_API_KEY", "env-key")
    monkeypatch.setenv("OS_API_SECRET", "env-secret")
    assert Credentials.from_env() == Credentials("env-key", "env-secret")
    assert Credentials.from_env("given", "given-secret") == Credentials("given", "given-secret")
    assert Credentials.from_env("given").key == "given"
    monkeypatch.delenv("OS_API_SECRET")
    assert not Credentials.from_env().uses_oauth2
    monkeypatch.delenv("OS_API_KEY")
    assert Credentials.from_env() is None  # no key is not an error yet: a complete file needs none
    assert Credentials.from_env("  ") is None
