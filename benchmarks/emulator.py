"""Cached tiles served per second by a real ``ospack emulator`` process (target ≥ 2,000/s).

Starts ``ospack emulator --port 0`` as a subprocess with a limit high enough never
to refuse, warms its tile cache, then drives it from this process with a
hand-rolled asyncio HTTP/1.1 keep-alive client (not ospack's downloader: on
loopback it is several times faster than aiohttp or httpx, so the client is not
what limits the figure). Every response is
checked for status 200 and its full Content-Length. For scale, the same client
then drives a bare aiohttp.web server returning one fixed PNG: the ratio shows
what the emulator's own work (auth, rate limit, stats, cache) costs on top of
the server library. Client and server share this machine's cores.

    python benchmarks/emulator.py [--requests 20000] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time

TARGET = 2000.0
TILES = [(7, x, y) for x in range(60, 65) for y in range(35, 44)]  # Road_3857 z7 limits: 45 tiles
TIME_CAP = 60.0


async def _worker(host: str, port: int, paths: list[str], start: int, count: int, step: int) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    done = 0
    try:
        for i in range(start, count, step):
            path = paths[i % len(paths)]
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"unexpected answer {head[:40]!r}")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            if length < 100 or not body.startswith(b"\x89PNG"):
                raise RuntimeError("response is not a PNG")
            done += 1
    finally:
        writer.close()
    return done


async def _drive(url: str, paths: list[str], requests: int, connections: int) -> float:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    started = time.perf_counter()
    counts = await asyncio.wait_for(
        asyncio.gather(*(_worker(host, int(port), paths, i, requests, connections) for i in range(connections))),
        TIME_CAP,
    )
    elapsed = time.perf_counter() - started
    assert sum(counts) == requests
    return requests / elapsed


def _start(command: list[str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("http://"):
        process.kill()
        raise SystemExit(f"server did not start: {url!r}")
    return process, url


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


BARE_SERVER = """
import sys
from aiohttp import web
body = open(sys.argv[1], "rb").read()
async def tile(request):
    return web.Response(body=body, content_type="image/png")
async def main():
    app = web.Application(); app.router.add_get("/{tail:.*}", tile)
    runner = web.AppRunner(app, access_log=None); await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0); await site.start()
    print("http://127.0.0.1:%d" % runner.addresses[0][1], flush=True)
    import asyncio; await asyncio.Event().wait()
import asyncio; asyncio.run(main())
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    paths = [f"/maps/raster/v1/zxy/Road_3857/{z}/{x}/{y}.png?key=bench" for z, x, y in TILES]
    emulator, url = _start(
        [sys.executable, "-m", "ospack", "emulator", "--port", "0", "--key", "bench:premium", "--limit", "3e7"]
    )
    try:
        asyncio.run(_drive(url, paths, len(paths) * 2, 4))  # warm the cache: every tile rendered once
        rates = [asyncio.run(_drive(url, paths, args.requests, args.connections)) for _ in range(args.runs)]
    finally:
        _stop(emulator)

    sample_path = "/tmp/ospack-bench-tile.png"
    bare, bare_url = None, None
    try:
        from ospack.emulator import render_tile
        from ospack.layers import get_layer
        from ospack.types import Tile

        with open(sample_path, "wb") as out:
            out.write(render_tile(get_layer("Road_3857"), Tile(*TILES[len(TILES) // 2])))
        bare, bare_url = _start([sys.executable, "-c", BARE_SERVER, sample_path])
        bare_rates = [asyncio.run(_drive(bare_url, paths, args.requests, args.connections)) for _ in range(args.runs)]
    finally:
        if bare is not None:
            _stop(bare)
        if os.path.exists(sample_path):
            os.remove(sample_path)

    median = statistics.median(rates)
    bare_median = statistics.median(bare_rates)
    print(
        f"emulator: cached Road_3857 tiles, {args.requests} requests x {args.runs} runs, "
        f"{args.connections} keep-alive connections, raw asyncio client"
    )
    print(f"  runs: {', '.join(f'{r:,.0f}' for r in rates)} tiles/s")
    print(f"  median {median:,.0f} tiles/s = {median / TARGET:.2f} x target ({TARGET:,.0f}/s)")
    print(
        f"bare aiohttp.web, one fixed PNG, same client: median {bare_median:,.0f} req/s "
        f"(emulator = {median / bare_median:.2f} x bare server)"
    )


if __name__ == "__main__":
    main()
