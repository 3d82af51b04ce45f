"""ApiAccess: the API, the credentials and the transport of a run as one value."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from ospack.errors import ApiUrlError, UsageError
from ospack.fetch import ApiAccess


def test_its_repr_never_shows_the_key_or_the_secret():
    access = ApiAccess(url="https://api.os.uk", key="s3cr3t-key", secret="s3cr3t-secret")
    assert "s3cr3t" not in repr(access) and "s3cr3t" not in str(access)
    assert "https://api.os.uk" in repr(access)


@pytest.mark.parametrize("given", [{"url": "http://127.0.0.1:9"}, {"key": "k"}, {"secret": "s"}])
def test_demo_with_an_api_or_credentials_is_refused_at_once(given):
    with pytest.raises(UsageError, match="--demo runs against the built-in emulator"):
        ApiAccess(demo=True, **given)
    assert not ApiAccess(**given).demo


def test_credentials_come_from_the_values_else_the_environment(monkeypatch):
    monkeypatch.setenv("OS_API_KEY", "from-env")
    monkeypatch.delenv("OS_API_SECRET", raising=False)
    assert ApiAccess().credentials().key == "from-env"
    given = ApiAccess(key="given", secret="pw").credentials()
    assert (given.key, given.secret) == ("given", "pw")
    monkeypatch.delenv("OS_API_KEY")
    assert ApiAccess().credentials() is None  # not an error here: a complete file needs no key


def test_endpoints_are_checked_when_asked_for():
    assert ApiAccess().endpoints().origin == "https://api.os.uk"
    assert ApiAccess(url="http://127.0.0.1:8080").endpoints().origin == "http://127.0.0.1:8080"
    with pytest.raises(ApiUrlError, match="clear text"):
        ApiAccess(url="http://maps.example.org").endpoints()
    allowed = ApiAccess(url="http://maps.example.org", allow_insecure_http=True)
    assert allowed.endpoints().origin == "http://maps.example.org"


def test_it_is_frozen_and_its_transport_does_not_make_two_accesses_differ():
    transport = httpx.MockTransport(lambda request: httpx.Response(204))
    access = ApiAccess(url="http://127.0.0.1:1", key="k", transport=transport)
    with pytest.raises(dataclasses.FrozenInstanceError):
        access.key = "other"  # type: ignore[misc]
    assert access == ApiAccess(url="http://127.0.0.1:1", key="k") and access.transport is transport
