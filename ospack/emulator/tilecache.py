"""Rendered tiles kept in memory (LRU by bytes), rendered off the event loop on a miss."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from concurrent.futures import Executor

from ..layers import Layer
from ..types import Tile
from .render import render_tile

CACHE_BYTES = 256 * 1024 * 1024


class TileCache:
    """Serve tile PNGs from memory; concurrent misses of one tile render it once.

    Must be used from one event loop's thread; rendering runs in ``executor``.
    """

    def __init__(self, executor: Executor | None = None, max_bytes: int = CACHE_BYTES) -> None:
        self._executor = executor
        self._max_bytes = max_bytes
        self._bytes = 0
        self._tiles: OrderedDict[tuple[str, int, int, int], bytes] = OrderedDict()
        self._rendering: dict[tuple[str, int, int, int], asyncio.Future[bytes]] = {}

    def cached(self, layer: Layer, tile: Tile) -> bytes | None:
        """The tile's bytes where already rendered, else None."""
        key = (layer.name, *tile)
        body = self._tiles.get(key)
        if body is not None:
            self._tiles.move_to_end(key)
        return body

    async def get(self, layer: Layer, tile: Tile) -> bytes:
        """The tile's PNG bytes, rendering it if needed."""
        body = self.cached(layer, tile)
        if body is not None:
            return body
        key = (layer.name, *tile)
        pending = self._rendering.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, render_tile, layer, tile)
        self._rendering[key] = future
        try:
            body = await asyncio.shield(future)
        finally:
            self._rendering.pop(key, None)
        self._store(key, body)
        return body

    def _store(self, key: tuple[str, int, int, int], body: bytes) -> None:
        if key in self._tiles:
            return
        self._tiles[key] = body
        self._bytes += len(body)
        while self._bytes > self._max_bytes and self._tiles:
            _, dropped = self._tiles.popitem(last=False)
            self._bytes -= len(dropped)
