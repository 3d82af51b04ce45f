"""The exact tile cover of an area: pure maths, no I/O.

A tile is in the cover at zoom ``z`` when the interior of its square meets the
interior of the area; a tile that only touches the area along an edge or at a
corner is out. Tiles outside the grid's matrix or the layer's limits are never
in the cover.

First the area is brought into the grid's CRS. An area reaching beyond the layer (a continent,
the world, a huge buffer) is cut, in its own CRS, to the layer's tiles plus a margin before it is
reprojected: a projection far from where it is defined gives finite nonsense, so only the part
near the layer is ever reprojected, and the exact clip below decides which tiles it meets.

How: the area is scaled to tile units (one tile = 1 × 1, rows counted down
from the grid's origin) and cut into horizontal bands, halving a band until its
rows times its vertices is small, so each row's clip handles few vertices. In
each one-row strip, every polygonal piece of positive area has a connected
interior, so the columns meeting it are exactly ``floor(minx) … ceil(maxx) − 1``.
The pieces' column intervals are merged per row. A count sums interval
lengths, so it never enumerates tiles; enumeration walks the intervals band by
band, top to bottom, so only one band's intervals are held at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache
from itertools import chain, repeat
from typing import NamedTuple

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from .area import WGS84, Area
from .errors import AreaError, AreaOutsideGridError
from .layers import Layer, ZoomSpec, get_layer, parse_zooms
from .projection import clip_rect, reproject, transform_bounds, valid_region
from .types import ProjectedBounds, Tile

#: A piece must reach this far (in tile widths) into a tile to count: it absorbs the
#: last-bit rounding of clipping, so a polygon edge lying on a tile edge stays "touching".
EDGE_TOLERANCE = 1e-9
_MIN_PIECE_AREA = 1e-12
#: A band is cut no further once rows × vertices is below this.
_BAND_BUDGET = 4096
#: How far beyond the layer's tiles the cut before reprojection reaches, in grid metres. The cut
#: only has to hold every tile (the exact clip to the tiles follows, in tile units).
_DOMAIN_MARGIN_M = 10_000.0
_ROW_KEY = 1 << 22  # larger than any matrix width (530,533 at 3857 z20)


class RowIntervals(NamedTuple):
    """Runs of covered tiles at one zoom: row ``rows[i]`` holds columns ``starts[i] … stops[i] − 1``."""

    zoom: int
    rows: np.ndarray
    starts: np.ndarray
    stops: np.ndarray

    def tile_count(self) -> int:
        """Number of tiles in these runs."""
        return int((self.stops - self.starts).sum())


def cover(area: Area, layer: Layer | str, zooms: ZoomSpec) -> Iterator[Tile]:
    """Yield the tiles of ``layer`` covering ``area``, in (zoom, row, column) order.

    Parameters
    ----------
    area : Area
        The area, e.g. from :func:`ospack.read_area`.
    layer : Layer or str
        The layer (or its name) whose grid and limits the tiles come from.
    zooms : str, int or sequence of int
        Anything :func:`ospack.parse_zooms` accepts: ``7``, ``"7-12"``, ``"7,9,11"``, ``range(7, 13)``.

    Returns
    -------
    Iterator[Tile]
        A generator; the tile set is never held in memory.

    Raises
    ------
    AreaOutsideGridError
        When the area lies wholly outside the layer's grid or limits at every zoom asked for.
    """
    shapes = _shapes(area, layer, zooms)  # eager, so a bad area fails at the call
    return _tiles(shapes)


def count(area: Area, layer: Layer | str, zooms: ZoomSpec) -> dict[int, int]:
    """Return the number of tiles in the cover per zoom, without enumerating them.

    Takes the same arguments as :func:`cover` and raises the same errors.
    """
    return {z: sum(run.tile_count() for run in _runs(z, shape)) for z, shape in _shapes(area, layer, zooms)}


def _served_bounds(layer: Layer, zooms: Iterable[int]) -> ProjectedBounds:
    """The box, in grid metres, holding every tile ``layer`` serves at ``zooms``."""
    boxes = []
    for z in zooms:
        served = layer.tile_range(z)
        left, _, _, top = layer.grid.tile_bounds(Tile(z, served.min_col, served.min_row))
        _, bottom, right, _ = layer.grid.tile_bounds(Tile(z, served.max_col, served.max_row))
        boxes.append((left, bottom, right, top))
    lefts, bottoms, rights, tops = zip(*boxes, strict=True)
    return ProjectedBounds(min(lefts), min(bottoms), max(rights), max(tops))


def _wgs84_box(crs: str, box: ProjectedBounds) -> tuple[float, float, float, float]:
    west, south, east, north = transform_bounds(box, crs, WGS84)
    return west, south, east, north


# --- per zoom: the area in tile units, clipped to what the layer serves ----------------


def _shapes(area: Area, layer: Layer | str, zooms: ZoomSpec) -> list[tuple[int, BaseGeometry]]:
    layer = get_layer(layer) if isinstance(layer, str) else layer
    levels = parse_zooms(zooms, layer)
    projected = in_grid_crs(area, layer)
    shapes = [(z, _in_tile_units(projected, layer, z)) for z in levels] if projected is not None else []
    if not any(shape.area > _MIN_PIECE_AREA for _, shape in shapes):
        raise AreaOutsideGridError(_outside(area, layer, levels, projected))
    return shapes


def in_grid_crs(area: Area, layer: Layer) -> BaseGeometry | None:
    """The area in the layer's grid CRS, cut first (in its own CRS) to where the layer has tiles.

    Reprojected whole, an area far larger than the layer (a continent, the world, a huge buffer)
    would meet the grid's projection where it gives nonsense. None when nothing of it is left.
    """
    domain = _domain(layer.grid.crs, _served_bounds(layer, layer.zooms), area.crs)
    try:
        if domain is None or domain.contains(area.geometry):
            return area.in_crs(layer.grid.crs)
        projected = area.in_crs(layer.grid.crs, within=domain)
    except AreaError:
        return None
    return None if projected.is_empty else projected


@cache
def _domain(grid_crs: str, served: ProjectedBounds, crs: str) -> BaseGeometry | None:
    """The layer's tiles, with a margin, as a polygon in ``crs`` (None: no cut needed or possible)."""
    if crs == grid_crs:
        return None
    left, bottom, right, top = served
    m = _DOMAIN_MARGIN_M
    box = shapely.box(left - m, bottom - m, right + m, top + m)
    region = valid_region(grid_crs)
    try:
        domain = reproject(box if region is None else shapely.intersection(box, region), grid_crs, crs, grow=False)
    except AreaError:
        return None
    if domain.is_empty or not domain.is_valid:
        return None
    shapely.prepare(domain)
    return domain


def _outside(area: Area, layer: Layer, levels: tuple[int, ...], projected: BaseGeometry | None) -> str:
    """Why the area has no tile, quoting boxes that show it: never an extent that holds the area."""
    crs, served = layer.grid.crs, _served_bounds(layer, levels)
    zooms = f"zoom {levels[0]}" if len(levels) == 1 else f"zooms {levels[0]}-{levels[-1]}"
    west, south, east, north = area.bounds_wgs84()
    lw, ls, le, ln = _wgs84_box(crs, served)
    advice = "check the area's coordinates, or choose other zooms or another layer"
    if east < lw or west > le or north < ls or south > ln:
        return (
            f"the area (lon {west:.4f}…{east:.4f}, lat {south:.4f}…{north:.4f}) lies wholly outside layer "
            f"{layer.name}, which covers lon {lw:.2f}…{le:.2f}, lat {ls:.2f}…{ln:.2f} at {zooms}; {advice}"
        )
    tiles = f"E {served.left:.0f}…{served.right:.0f}, N {served.bottom:.0f}…{served.top:.0f} m in {crs}"
    if projected is None or projected.is_empty:
        return (
            f"the area (lon {west:.4f}…{east:.4f}, lat {south:.4f}…{north:.4f}) lies beyond the edge of layer "
            f"{layer.name}, whose tiles at {zooms} span {tiles}; {advice}"
        )
    x0, y0, x1, y1 = projected.bounds
    return (
        f"the area (E {x0:.0f}…{x1:.0f}, N {y0:.0f}…{y1:.0f} m in {crs}) lies wholly outside the tiles of layer "
        f"{layer.name} at {zooms}, which span {tiles}; {advice}"
    )


def _in_tile_units(geometry: BaseGeometry, layer: Layer, z: int) -> BaseGeometry:
    grid, served = layer.grid, layer.tile_range(z)
    span, x0, y0 = grid.tile_span(z), grid.origin_x, grid.origin_y

    def scale(xy: np.ndarray) -> np.ndarray:
        # subtract then divide: exact whenever a coordinate lies exactly on a tile edge
        return np.column_stack(((xy[:, 0] - x0) / span, (y0 - xy[:, 1]) / span))

    in_tiles = shapely.transform(geometry, scale)
    return clip_rect(in_tiles, served.min_col, served.min_row, served.max_col + 1, served.max_row + 1)


# --- bands and rows ----------------------------------------------------------------------


def _runs(z: int, shape: BaseGeometry) -> Iterator[RowIntervals]:
    if shape.area <= _MIN_PIECE_AREA:
        return
    minx, miny, maxx, maxy = shape.bounds
    yield from _bands(z, shape, _floor(miny), _ceil(maxy), minx - 1, maxx + 1)


def _bands(z: int, shape: BaseGeometry, top: int, bottom: int, xmin: float, xmax: float) -> Iterator[RowIntervals]:
    rows = bottom - top
    if rows <= 0 or shape.is_empty:
        return
    if rows == 1 or rows * shapely.get_num_coordinates(shape) <= _BAND_BUDGET:
        yield _rows(z, shape, top, bottom, xmin, xmax)
        return
    middle = (top + bottom) // 2
    for start, stop in ((top, middle), (middle, bottom)):
        half = clip_rect(shape, float(xmin), float(start), float(xmax), float(stop))
        if half.is_empty:
            continue
        _, low, _, high = half.bounds
        yield from _bands(z, half, max(start, _floor(low)), min(stop, _ceil(high)), xmin, xmax)


def _rows(z: int, shape: BaseGeometry, top: int, bottom: int, xmin: float, xmax: float) -> RowIntervals:
    edges = np.arange(top, bottom, dtype=np.float64)
    strips = clip_rect(shape, float(xmin), edges, float(xmax), edges + 1)
    pieces, index = shapely.get_parts(strips, return_index=True)
    keep = shapely.area(pieces) > _MIN_PIECE_AREA
    bounds = shapely.bounds(pieces[keep])
    rows = index[keep].astype(np.int64) + top
    starts = np.floor(bounds[:, 0] + EDGE_TOLERANCE).astype(np.int64)
    stops = np.ceil(bounds[:, 2] - EDGE_TOLERANCE).astype(np.int64)
    return _merged(z, rows, starts, stops)


def _merged(z: int, rows: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> RowIntervals:
    """Union overlapping or adjacent runs within each row; sort by row, then column."""
    order = np.lexsort((starts, rows))
    rows, starts, stops = rows[order], starts[order], stops[order]
    if len(rows) > 1:
        # running furthest stop per row: rows only grow, so one cumulative max over row-keyed stops does it
        reach = np.maximum.accumulate(rows * _ROW_KEY + stops) - rows * _ROW_KEY
        new = np.ones(len(rows), dtype=bool)
        new[1:] = (rows[1:] != rows[:-1]) | (starts[1:] > reach[:-1])
        first = np.flatnonzero(new)
        rows, starts, stops = rows[first], starts[first], np.maximum.reduceat(stops, first)
    return RowIntervals(z, rows, starts, stops)


def _tiles(shapes: Iterable[tuple[int, BaseGeometry]]) -> Iterator[Tile]:
    # one C-level map per run, chained: no Python frame per tile, and tuple.__new__ skips Tile's Python __new__
    return chain.from_iterable(_run_tiles(shapes))


def _run_tiles(shapes: Iterable[tuple[int, BaseGeometry]]) -> Iterator[Iterator[Tile]]:
    for z, shape in shapes:
        for run in _runs(z, shape):
            for row, start, stop in zip(run.rows.tolist(), run.starts.tolist(), run.stops.tolist(), strict=True):
                yield map(tuple.__new__, repeat(Tile), zip(repeat(z), range(start, stop), repeat(row)))


def _floor(value: float) -> int:
    return int(np.floor(value + EDGE_TOLERANCE))


def _ceil(value: float) -> int:
    return int(np.ceil(value - EDGE_TOLERANCE))
