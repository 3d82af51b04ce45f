"""The real transport's errors say what happened: no connection is not a timeout."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import httpx
import pytest

from ospack.emulator import Emulator, EmulatorConfig
from ospack.fetch.transport import ConnectFailed, default_transport, remap_error

TILE = "/maps/raster/v1/zxy/Road_3857/7/63/42.png?key=demo"


def get(url: str) -> httpx.Response:
    async def main() -> httpx.Response:
        async with httpx.AsyncClient(transport=default_transport(2), timeout=5) as client:
            return await client.get(url)

    return asyncio.run(main())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_refused_connection_is_a_connect_error_naming_host_and_port():
    port = free_port()
    with pytest.raises(ConnectFailed) as caught:
        get(f"http://127.0.0.1:{port}/x?key=secret")
    assert isinstance(caught.value, httpx.ConnectError) and not isinstance(caught.value, httpx.TimeoutException)
    assert str(caught.value) == f"cannot connect to 127.0.0.1:{port} (connection refused)"


def test_an_unknown_host_is_a_connect_error():
    with pytest.raises(ConnectFailed, match=r"cannot connect to no-such-host\.invalid:80 \(host name not found\)"):
        get("http://no-such-host.invalid/x")


@pytest.mark.parametrize("fault", ["reset", "truncate"])
def test_a_connection_dropped_mid_body_is_a_read_error_not_a_timeout(fault):
    with Emulator(EmulatorConfig(faults={fault: 1.0})) as emu:
        with pytest.raises(httpx.TransportError) as caught:
            get(f"{emu.url}{TILE}")
    assert not isinstance(caught.value, (httpx.TimeoutException, httpx.ConnectError))


def test_remap_by_aiohttp_cause():
    request = httpx.Request("GET", "https://api.os.uk/maps/x?key=secret")

    def mapped(cause: Exception, as_: type[httpx.TransportError] = httpx.ConnectTimeout) -> httpx.TransportError:
        exc = as_("mapped by httpx-aiohttp")
        exc.__cause__ = cause
        return remap_error(exc, request)

    assert isinstance(mapped(aiohttp.ServerDisconnectedError()), httpx.RemoteProtocolError)
    assert isinstance(mapped(aiohttp.ClientOSError(104, "Connection reset by peer")), httpx.ReadError)
    timed_out = mapped(aiohttp.ConnectionTimeoutError())
    assert isinstance(timed_out, ConnectFailed) and str(timed_out) == "cannot connect to api.os.uk:443 (timed out)"
    read_timeout = httpx.ReadTimeout("slow")
    assert remap_error(read_timeout, request) is read_timeout  # a real timeout stays one
