"""Fetch benchmarks, all on 127.0.0.1: client choice, pool overhead, rate discipline.

1. Raw GET rate of three httpx set-ups against a canned tile server (its own process):
   httpx.AsyncClient's own pool, the same sharded into clients of 8 connections, and
   httpx with httpx-aiohttp's transport (the one ospack.fetch uses).
2. fetch_tiles with no rate limit versus the chosen client's raw rate, in the same run.
3. Memory: peak RSS of fetch_tiles over a small and a 6× larger streamed plan
   (mock transport, each in a fresh process): flat means the queue, not the plan, sets it.
4. Rate discipline: fetch_tiles against the emulator (its own process) enforcing a limit:
   achieved rate / limit and the 429s the emulator counted.

    python benchmarks/fetch.py [--requests 4000] [--rate 6000] [--spike-rate 600] [--window 5] [--windows 3]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager

import httpx
from httpx_aiohttp import AiohttpTransport
from PIL import Image

from ospack.fetch import Credentials, FetchSettings, RatePolicy, fetch_tiles
from ospack.types import Tile


def tile_png() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((256, 256), 24).convert("RGB").quantize(64).save(out, "PNG")
    return out.getvalue()


def serve() -> None:
    """A canned HTTP/1.1 keep-alive server: every GET gets the same PNG (client cost only)."""
    body = tile_png()
    response = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n" % len(body) + body

    class Canned(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport, self.buffer = transport, b""

        def data_received(self, data):
            self.buffer += data
            while b"\r\n\r\n" in self.buffer:
                _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
                self.transport.write(response)

    async def main():
        server = await asyncio.get_running_loop().create_server(Canned, "127.0.0.1", 0)
        print(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
        await server.serve_forever()

    asyncio.run(main())


@contextmanager
def process(*args: str):
    child = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, text=True)
    try:
        yield child.stdout.readline().strip()
    finally:
        child.terminate()
        child.wait(timeout=10)


def make_clients(kind: str, conc: int) -> list[httpx.AsyncClient]:
    if kind == "httpx":
        return [httpx.AsyncClient(limits=httpx.Limits(max_connections=conc))]
    if kind == "httpx-sharded":
        return [httpx.AsyncClient(limits=httpx.Limits(max_connections=8)) for _ in range(max(1, conc // 8))]
    return [httpx.AsyncClient(transport=AiohttpTransport(limits=httpx.Limits(max_connections=conc)))]


async def raw_rate(kind: str, conc: int, n: int, url: str) -> float:
    clients = make_clients(kind, conc)
    numbers = iter(range(n))

    async def worker(i: int) -> None:
        client = clients[i % len(clients)]
        for k in numbers:
            response = await client.get(f"{url}/maps/raster/v1/zxy/Road_27700/9/{k}/0.png", headers={"key": "bench"})
            assert response.status_code == 200 and response.content[:4] == b"\x89PNG"

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(conc)))
    elapsed = time.perf_counter() - started
    for client in clients:
        await client.aclose()
    return n / elapsed


def pool_rate(conc: int, n: int, url: str) -> float:
    tiles = (Tile(9, k, 0) for k in range(n))
    stats = asyncio.run(
        fetch_tiles(
            tiles,
            layer="Road_27700",
            credentials=Credentials("bench"),
            endpoints=url,
            settings=FetchSettings(rate=RatePolicy.unpaced(), workers=conc),
        )
    )
    assert stats.tiles_ok == n, stats
    return n / stats.elapsed_s


def memory_run(n: int) -> None:
    """Fetch ``n`` tiles through a mock transport; print the process's peak RSS in MB."""
    import resource

    body = tile_png()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    tiles = (Tile(9, k % 2000, k // 2000) for k in range(n))
    stats = asyncio.run(
        fetch_tiles(
            tiles,
            layer="Road_27700",
            credentials=Credentials("bench"),
            settings=FetchSettings(rate=RatePolicy.unpaced()),
            transport=transport,
        )
    )
    assert stats.tiles_ok == n
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, flush=True)


def peak_rss_mb(n: int) -> float:
    out = subprocess.run([sys.executable, __file__, "--memory-run", str(n)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def median_of(reps: int, measure) -> float:
    return statistics.median(measure() for _ in range(reps))


def rate_discipline(rate: int, window: float, windows: int, enforce: str) -> dict:
    args = [
        "-m",
        "ospack",
        "emulator",
        "--key",
        "demo",
        "--enforce",
        enforce,
        "--limit",
        str(rate),
        "--window",
        str(window),
    ]
    with process(*args) as url:
        n = int(rate * window * windows / 60)
        tiles = (Tile(9, 1060 + k % 40, 1900 + k // 40) for k in range(n))
        stats = asyncio.run(
            fetch_tiles(
                tiles,
                layer="Road_27700",
                credentials=Credentials("demo"),
                endpoints=url,
                settings=FetchSettings(rate=RatePolicy(rate, window_s=window), workers=8),
            )
        )
        with urllib.request.urlopen(url + "/__emulator__/stats", timeout=10) as response:
            seen = json.load(response)
    return {
        "enforce": enforce,
        "limit_per_min": rate,
        "window_s": window,
        "requests": stats.requests,
        "elapsed_s": round(stats.elapsed_s, 2),
        "achieved_per_min": round(stats.achieved_rate_per_min, 1),
        "achieved_over_limit": round(stats.achieved_rate_per_min / rate, 4),
        "429_client": stats.rate_limited,
        "429_emulator": seen["by_status"].get("429", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--memory-run", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--memory-tiles", type=int, default=10_000, help="small plan for the memory check")
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--rate", type=int, default=6000, help="sliding/fixed limit, requests per minute")
    parser.add_argument("--spike-rate", type=int, default=600, help="spike-arrest limit, requests per minute")
    parser.add_argument("--window", type=float, default=5.0, help="emulator window, seconds")
    parser.add_argument("--windows", type=int, default=3, help="run length in windows")
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    if args.memory_run:
        memory_run(args.memory_run)
        return

    with process(__file__, "--serve") as url:
        for conc in (8, 32):
            for kind in ("httpx", "httpx-sharded", "httpx+aiohttp-transport"):
                rate = median_of(
                    args.reps, lambda kind=kind, conc=conc: asyncio.run(raw_rate(kind, conc, args.requests, url))
                )
                print(
                    json.dumps({"test": "raw", "client": kind, "workers": conc, "req_per_s": round(rate)}), flush=True
                )
            raw = median_of(
                args.reps, lambda conc=conc: asyncio.run(raw_rate("httpx+aiohttp-transport", conc, args.requests, url))
            )
            pooled = median_of(args.reps, lambda conc=conc: pool_rate(conc, args.requests, url))
            print(
                json.dumps(
                    {
                        "test": "fetch_tiles vs raw",
                        "workers": conc,
                        "raw_req_per_s": round(raw),
                        "fetch_tiles_tiles_per_s": round(pooled),
                        "ratio": round(pooled / raw, 3),
                    }
                ),
                flush=True,
            )
    small, large = args.memory_tiles, 6 * args.memory_tiles
    rss_small, rss_large = peak_rss_mb(small), peak_rss_mb(large)
    print(
        json.dumps(
            {
                "test": "memory",
                "tiles": [small, large],
                "peak_rss_mb": [round(rss_small, 1), round(rss_large, 1)],
                "growth_ratio": round(rss_large / rss_small, 3),
            }
        ),
        flush=True,
    )
    for enforce, rate in (("sliding", args.rate), ("fixed", args.rate), ("spike", args.spike_rate)):
        print(
            json.dumps({"test": "rate discipline", **rate_discipline(rate, args.window, args.windows, enforce)}),
            flush=True,
        )


if __name__ == "__main__":
    main()
