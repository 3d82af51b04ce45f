"""Shared helpers for the writer tests: tiles rendered with Pillow, jobs, bbox covers (and the cover seam's test)."""

from __future__ import annotations

import io
import json
import math
import sqlite3
from collections.abc import Iterator
from importlib import import_module

from PIL import Image
from pyproj import Transformer

from ospack.layers import get_layer
from ospack.types import Tile
from ospack.writers import JobInfo, OutputOptions, open_writer

SOURCE = "https://api.os.uk/maps/raster/v1/zxy"
CREATED = "2026-11-30T05:00:00Z"
#: around Yr Wyddfa; ~3 × 4 km, so a few tiles per zoom
AREA_BOX = (-4.10, 53.05, -4.05, 53.09)


def box_geojson(west: float, south: float, east: float, north: float) -> str:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def make_job(layer: str, zooms, box=AREA_BOX, **kwargs) -> JobInfo:
    layers = (layer,) if isinstance(layer, str) else tuple(layer)
    return JobInfo(layers, tuple(zooms), box_geojson(*box), kwargs.pop("source", SOURCE), CREATED, **kwargs)


def quadrant_colour(tile: Tile, quadrant: int) -> tuple[int, int, int]:
    """A colour unique to (tile, quadrant) for small test areas; quadrants 0 TL, 1 TR, 2 BL, 3 BR."""
    z, x, y = tile
    return ((x * 37 + quadrant * 61) % 256, (y * 53 + quadrant * 89) % 256, (z * 29 + quadrant * 47) % 256)


def render_tile(tile: Tile, size: int = 256, fmt: str = "PNG") -> bytes:
    """A tile image whose four quadrants have colours derived from its address."""
    image = Image.new("RGB", (size, size))
    half = size // 2
    for q, (left, top) in enumerate([(0, 0), (half, 0), (0, half), (half, half)]):
        image.paste(quadrant_colour(tile, q), (left, top, left + half, top + half))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def bbox_tiles(layer: str, z: int, box=AREA_BOX) -> list[Tile]:
    """Every tile of the layer's grid meeting the box at zoom z, in (row, column) order."""
    grid = get_layer(layer).grid
    left, bottom, right, top = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True).transform_bounds(
        *box, densify_pts=21
    )
    span = grid.tile_span(z)
    x0 = math.floor((left - grid.origin_x) / span)
    x1 = math.ceil((right - grid.origin_x) / span) - 1
    y0 = math.floor((grid.origin_y - top) / span)
    y1 = math.ceil((grid.origin_y - bottom) / span) - 1
    return [Tile(z, x, y) for y in range(y0, y1 + 1) for x in range(x0, x1 + 1)]


def tile_edges_wgs84(layer: str, z: int, box=AREA_BOX) -> tuple[float, float, float, float]:
    """The lon/lat box of the bbox tiles at zoom z: the area's box snapped outwards to tile edges."""
    grid = get_layer(layer).grid
    tiles = bbox_tiles(layer, z, box)
    first, last = grid.tile_bounds(tiles[0]), grid.tile_bounds(tiles[-1])
    to_wgs84 = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    west, north = to_wgs84.transform(first.left, first.top)
    east, south = to_wgs84.transform(last.right, last.bottom)
    return west, south, east, north


def fill(writer, layer: str, zooms, box=AREA_BOX) -> dict[int, list[Tile]]:
    """Write the bbox tiles of every zoom, one batch per zoom; returns them."""
    written = {}
    for z in zooms:
        tiles = bbox_tiles(layer, z, box)
        assert writer.write(layer, [(t, render_tile(t)) for t in tiles]) == len(tiles)
        written[z] = tiles
    return written


def install_bbox_cover(monkeypatch) -> None:
    """Stand in for the cover stage with the area's bounding-box tiles.

    verify() reads the cover from :class:`ospack.plan.JobCover`, which calls ``cover`` as the plan
    module names it, so replacing that one name injects the cover; the area itself is still parsed
    for real. Lets verify()'s merge-join be
    tested on its own; tests/test_inspect.py also runs it on the real cover.
    """
    monkeypatch.setattr(import_module("ospack.plan"), "cover", bbox_cover)


def bbox_cover(area, layer, zooms) -> Iterator[Tile]:
    """The cover's signature, but every zoom's bounding-box tiles of AREA_BOX, whatever ``area`` is."""
    return (t for z in zooms for t in bbox_tiles(getattr(layer, "name", layer), z))


def query(path, sql: str, params=()) -> list[tuple]:
    """Every row of one query on a file, through a connection closed before returning."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def tamper(path, *statements) -> None:
    """Run SQL statements (text, or (text, params)) straight on a file, as damage from outside would."""
    conn = sqlite3.connect(path)
    for statement in statements:
        sql, params = (statement, ()) if isinstance(statement, str) else statement
        conn.execute(sql, params)
    conn.commit()
    conn.close()


def finished_package(path, layer: str, zooms, options: OutputOptions | None = None):
    """A complete package at ``path`` holding the bbox tiles of ``zooms``; returns the path."""
    with open_writer(path, make_job(layer, zooms), options) as writer:
        fill(writer, layer, zooms)
        writer.mark_complete()
    return path


def check_quadrant_pixels(src, grid, tiles) -> int:
    """Assert GDAL's pixel at each quadrant centre of each tile is that quadrant's colour; return how many were checked.

    Quadrants clipped away by the dataset's extent are skipped.
    """
    checked = 0
    for tile in tiles:
        b = grid.tile_bounds(tile)
        quarter = (b.right - b.left) / 4
        for q, (dx, dy) in enumerate([(1, 1), (3, 1), (1, 3), (3, 3)]):
            x, y = b.left + dx * quarter, b.top - dy * quarter
            if not (src.bounds.left < x < src.bounds.right and src.bounds.bottom < y < src.bounds.top):
                continue
            row, col = src.index(x, y)
            pixel = src.read([1, 2, 3], window=((row, row + 1), (col, col + 1)))[:, 0, 0]
            assert tuple(pixel) == quadrant_colour(tile, q), (tile, q)
            checked += 1
    return checked


def test_the_bbox_cover_is_what_verify_compares_with(tmp_path, monkeypatch):
    # at zoom 9 the box's bounding-box tiles include 8 that the real cover (the box's curved outline
    # in British National Grid) does not reach, so the two covers give different verdicts
    from ospack.inspect import verify

    path = finished_package(tmp_path / "box.gpkg", "Outdoor_27700", (9,))
    assert any("8 stored tiles lie outside the area's cover" in p for p in verify(path).problems)
    install_bbox_cover(monkeypatch)
    assert verify(path).ok, verify(path).problems
    monkeypatch.undo()
    assert not verify(path).ok
