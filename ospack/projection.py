"""CRS names and reprojection of polygonal areas: the geometry maths :mod:`ospack.area` builds on.

Pure functions, no I/O: reprojection densifies edges first (a straight edge bends
when reprojected) and keeps only the areal parts of what comes out.

Every move onto or off the British National Grid from a CRS on another datum goes by
OSTN15 (:mod:`ospack.ostn15`), through WGS84 longitude/latitude when the CRS is neither:
pyproj alone would use a Helmert transformation metres out. Where OSTN15 gives no answer
the points come by Helmert and a polygon is grown there by the Helmert error bound.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import cache
from typing import Any, Literal

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

from . import ostn15
from .errors import AreaError, CrsError

WGS84 = "EPSG:4326"

#: shapely's clip_by_rect ufunc. The public wrapper refuses arrays of rectangles and costs more
#: than the clip itself on small pieces; the ufunc underneath broadcasts (shapely 2.0 to 2.2).
_fast_clip = shapely.lib.clip_by_rect

#: Longest edge allowed before reprojecting, in source units. Straight edges bend when
#: reprojected; at these lengths the bend is a few centimetres, far below a tile.
DENSIFY_DEGREES = 0.01
DENSIFY_METRES = 1000.0
MERCATOR_MAX_LAT = 85.0511287798066
#: How far round a projected CRS's area of use its coordinates are still taken as places, in degrees.
USE_MARGIN_DEGREES = 10.0
#: Latitudes beyond this are left out of a projected CRS's region: Mercator sends the poles to infinity.
_POLAR_LAT = 89.0
#: The fewest metres a degree of latitude spans (at the equator; a degree of longitude spans
#: at least this times the cosine of the latitude), to turn a distance on the ground into degrees.
_METRES_PER_DEGREE_MIN = 110_574.0
#: The National Grid's smallest scale factor: a grid metre is at most this much over a metre on the ground.
_GRID_SCALE_MIN = 0.9996012717

#: Segments per quarter circle of the growth round what the Helmert fallback placed.
_QUAD_SEGS = 8

#: One step of a reprojection: pyproj from one CRS to another, or OSTN15 onto or off the National Grid.
Leg = tuple[Literal["pyproj", "to_grid", "to_lonlat"], str, str]


@cache
def normalise_crs(crs: str) -> str:
    """Return a CRS as ``EPSG:n`` where it has an EPSG code, else as pyproj writes it."""
    try:
        parsed = CRS.from_user_input(crs)
    except CRSError:
        raise CrsError(f"unknown CRS {crs!r}; write it as EPSG:27700, EPSG:4326 …") from None
    if parsed.name in {"WGS 84 (CRS84)", "WGS 84 (CRS84) (3D)"} or parsed.to_epsg() == 4326:
        return WGS84
    epsg = parsed.to_epsg()
    return f"EPSG:{epsg}" if epsg else parsed.to_string()


@cache
def transformer(source: str, target: str) -> Transformer:
    """pyproj's transformer between two CRSs (no OSTN15: for moves onto the National Grid use :func:`transform_xy`)."""
    return Transformer.from_crs(source, target, always_xy=True)


@cache
def is_geographic(crs: str) -> bool:
    return bool(CRS.from_user_input(crs).is_geographic)


@cache
def legs(source: str, target: str) -> tuple[Leg, ...]:
    """The steps from ``source`` to ``target``: OSTN15 for the datum change onto or off the National Grid."""
    source, target = normalise_crs(source), normalise_crs(target)
    if source == target:
        return ()
    if ostn15.BNG not in (source, target) or (_on_osgb36(source) and _on_osgb36(target)):
        return (("pyproj", source, target),)
    if target == ostn15.BNG:
        before: tuple[Leg, ...] = () if source in ostn15.LONLAT else (("pyproj", source, WGS84),)
        return (*before, ("to_grid", WGS84, target))
    after: tuple[Leg, ...] = () if target in ostn15.LONLAT else (("pyproj", WGS84, target),)
    return (("to_lonlat", source, WGS84), *after)


@cache
def _on_osgb36(crs: str) -> bool:
    """True for a CRS on the National Grid's own datum, to which pyproj moves exactly (no datum change)."""
    geodetic = CRS.from_user_input(crs).geodetic_crs
    return geodetic is not None and geodetic.to_epsg() == 4277


def transform_xy(x: Any, y: Any, source: str, target: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points from ``source`` to ``target``, and which of them the Helmert fallback placed (:mod:`ospack.ostn15`)."""
    xs, ys = np.asarray(x, dtype=np.float64).reshape(-1), np.asarray(y, dtype=np.float64).reshape(-1)
    approximate = np.zeros(xs.shape, dtype=bool)
    for leg in legs(source, target):
        xs, ys, marked = _leg_xy(leg, xs, ys)
        approximate |= marked
    return xs, ys, approximate


def _leg_xy(leg: Leg, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    kind, source, target = leg
    if kind == "to_grid":
        return ostn15.to_grid(x, y)
    if kind == "to_lonlat":
        return ostn15.to_lonlat(x, y)
    moved_x, moved_y = transformer(source, target).transform(x, y)
    return np.asarray(moved_x, dtype=np.float64), np.asarray(moved_y, dtype=np.float64), np.zeros(x.shape, dtype=bool)


def transform(geometry: BaseGeometry, source: str, target: str) -> BaseGeometry:
    """Move every vertex from ``source`` to ``target`` as it is (no densifying, no repair, no growing)."""

    def move(xy: np.ndarray) -> np.ndarray:
        x, y, _ = transform_xy(xy[:, 0], xy[:, 1], source, target)
        return np.column_stack((x, y))

    return shapely.transform(geometry, move)


def transform_bounds(bounds: Iterable[float], source: str, target: str) -> tuple[float, float, float, float]:
    """The box holding ``bounds`` (left, bottom, right, top in ``source``) in ``target``.

    Each side is sampled at 21 points, as pyproj's ``transform_bounds`` does (which takes the
    moves without OSTN15); a box partly placed by the Helmert fallback is grown by its error bound.
    """
    left, bottom, right, top = (float(v) for v in bounds)
    box = (left, bottom, right, top)
    for kind, leg_source, leg_target in legs(source, target):
        if kind == "pyproj":
            box = transformer(leg_source, leg_target).transform_bounds(*box, densify_pts=21)
            continue
        xs, ys = _outline(*box)
        x, y, approximate = _leg_xy((kind, leg_source, leg_target), xs, ys)
        reach = _helmert_reach(leg_target, y[approximate]) if approximate.any() else 0.0
        box = (float(x.min()) - reach, float(y.min()) - reach, float(x.max()) + reach, float(y.max()) + reach)
    return box


def _outline(left: float, bottom: float, right: float, top: float) -> tuple[np.ndarray, np.ndarray]:
    """Points round a box: its corners and 21 more along each side."""
    t = np.linspace(0.0, 1.0, 23)
    across, up = left + (right - left) * t, bottom + (top - bottom) * t
    xs = np.concatenate((across, np.full_like(t, right), across, np.full_like(t, left)))
    ys = np.concatenate((np.full_like(t, bottom), up, np.full_like(t, top), up))
    return xs, ys


def _helmert_reach(crs: str, lats: np.ndarray) -> float:
    """:data:`ostn15.HELMERT_ERROR_M` in ``crs``'s units (grid metres, or degrees at latitudes ``lats``)."""
    if crs == ostn15.BNG:
        return ostn15.HELMERT_ERROR_M
    widest = math.radians(min(float(np.abs(lats).max()), _POLAR_LAT))
    return ostn15.HELMERT_ERROR_M / _GRID_SCALE_MIN / (_METRES_PER_DEGREE_MIN * math.cos(widest))


def reproject(geometry: BaseGeometry, source: str, target: str, *, grow: bool = True) -> BaseGeometry:
    """The polygonal ``geometry`` in ``target``, edges densified first; AreaError where it cannot go.

    ``grow=False`` leaves out the growth round what the Helmert fallback placed, for regions
    whose own margins dwarf its error (where a CRS is defined, the layer's tiles plus 10 km).
    """
    return reproject_marked(geometry, source, target, grow=grow)[0]


def reproject_marked(
    geometry: BaseGeometry, source: str, target: str, *, grow: bool = True
) -> tuple[BaseGeometry, bool]:
    """:func:`reproject`, and whether part of it came by the Helmert fallback (and was grown there).

    Each vertex the fallback placed is within :data:`ostn15.HELMERT_ERROR_M` of where OSTN15 would
    put it and every other one within a millimetre, so every edge that has such a vertex, grown
    by the bound, holds where that edge truly lies: the grown polygon holds the true one.
    """
    if is_geographic(source) and normalise_crs(target) == "EPSG:3857":
        geometry = clip_rect(geometry, -180, -MERCATOR_MAX_LAT, 180, MERCATOR_MAX_LAT)
    step = DENSIFY_DEGREES if is_geographic(source) else DENSIFY_METRES
    moved, approximate = shapely.segmentize(geometry, step), False
    for leg in legs(source, target):
        moved, marked = _moved(moved, leg, target, grow)
        approximate = approximate or marked
    return moved, approximate


def _moved(geometry: BaseGeometry, leg: Leg, target: str, grow: bool) -> tuple[BaseGeometry, bool]:
    marks: list[np.ndarray] = []

    def move(xy: np.ndarray) -> np.ndarray:
        x, y, approximate = _leg_xy(leg, xy[:, 0], xy[:, 1])
        marks.append(approximate)
        return np.column_stack((x, y))

    moved = shapely.transform(geometry, move)
    if not np.isfinite(shapely.get_coordinates(moved)).all():
        raise AreaError(f"the area cannot be projected to {target}: it lies outside where that CRS is defined")
    approximate = marks[0] if marks else np.zeros(0, dtype=bool)
    repaired = moved if moved.is_valid else polygonal(shapely.make_valid(moved))
    if not grow or not approximate.any() or moved.geom_type not in {"Polygon", "MultiPolygon"}:
        return repaired, bool(approximate.any())  # a point marks a place: it covers nothing to grow
    lats = shapely.get_coordinates(moved)[approximate, 1]
    # GEOS draws a buffer's arcs as chords inside the true circle: reach a little further so they clear it
    reach = _helmert_reach(leg[2], lats) / math.cos(math.pi / (4 * _QUAD_SEGS))
    grown = shapely.union(repaired, shapely.buffer(_touched_edges(moved, approximate), reach, quad_segs=_QUAD_SEGS))
    return polygonal(grown), True


def _touched_edges(polygons: BaseGeometry, approximate: np.ndarray) -> BaseGeometry:
    """The edges of the rings of ``polygons`` that have a vertex marked in ``approximate`` (in coordinate order).

    Consecutive such edges come as one line: GEOS buffers one long line far faster than its pieces.
    """
    xy, ring = shapely.get_coordinates(shapely.get_rings(shapely.get_parts(polygons)), return_index=True)
    edges = np.flatnonzero((ring[1:] == ring[:-1]) & (approximate[1:] | approximate[:-1]))
    first = np.ones(len(edges), dtype=bool)
    first[1:] = edges[1:] != edges[:-1] + 1
    last = np.append(first[1:], True)
    run = np.cumsum(first) - 1
    points, lines = np.concatenate((edges, edges[last] + 1)), np.concatenate((run, run[last]))
    order = np.lexsort((points, lines))
    return shapely.multilinestrings(shapely.linestrings(xy[points[order]], indices=lines[order]))


def flatten(geometries: Iterable[BaseGeometry]) -> list[BaseGeometry]:
    """Single parts of geometries, collections of collections included."""
    parts = list(shapely.get_parts(list(geometries)))
    while any(p.geom_type == "GeometryCollection" for p in parts):
        parts = list(shapely.get_parts(parts))
    return parts


def polygonal(geometry: BaseGeometry) -> BaseGeometry:
    """Keep only the areal parts of a geometry, as a Polygon or MultiPolygon."""
    if geometry.geom_type in {"Polygon", "MultiPolygon"}:
        return geometry
    polygons = [p for p in flatten([geometry]) if p.geom_type == "Polygon" and p.area > 0]
    if not polygons:
        return shapely.Polygon()
    return shapely.union_all(polygons) if len(polygons) > 1 else polygons[0]


@cache
def valid_region(crs: str) -> BaseGeometry | None:
    """Where coordinates in ``crs`` stand for places, as a polygon in ``crs`` (None: everywhere it reaches).

    A projected CRS is exact only near its area of use and gives finite nonsense far from it
    (British National Grid puts longitude 170° a few hundred km from Cornwall), so an area is
    cut to the area of use grown by :data:`USE_MARGIN_DEGREES` on every side: far enough to hold
    every tile of the grids ospack serves in that CRS, near enough for the projection to hold.
    """
    parsed = CRS.from_user_input(crs)
    use = parsed.area_of_use
    if parsed.is_geographic or use is None or use.west > use.east:
        return None
    m = USE_MARGIN_DEGREES
    west, east = max(use.west - m, -180.0), min(use.east + m, 180.0)
    south, north = max(use.south - m, -_POLAR_LAT), min(use.north + m, _POLAR_LAT)
    region = reproject(shapely.box(west, south, east, north), WGS84, crs, grow=False)
    if not region.is_valid or region.is_empty:
        return None
    shapely.prepare(region)
    return region


def clip_rect(geometry: Any, xmin: Any, ymin: Any, xmax: Any, ymax: Any) -> Any:
    """``geometry`` cut to the rectangle(s) (arrays broadcast), by GEOS's fast rectangle clip where it copes.

    That clip fails on some valid polygons (a vertex a hair from the rectangle's side makes it
    build a 3-point ring) and returns invalid rings for others (a hole touching the shell on the
    rectangle's side); the general overlay is slower but exact, so it takes over for those.
    """
    try:
        clipped = _fast_clip(geometry, np.float64(xmin), np.float64(ymin), np.float64(xmax), np.float64(ymax))
    except shapely.errors.GEOSException:
        return shapely.intersection(geometry, shapely.box(xmin, ymin, xmax, ymax))
    broken = ~shapely.is_valid(clipped)
    if not np.any(broken):
        return clipped
    if np.ndim(clipped) == 0:
        return shapely.intersection(geometry, shapely.box(xmin, ymin, xmax, ymax))
    boxes = np.broadcast_to(shapely.box(xmin, ymin, xmax, ymax), clipped.shape)
    shapes = np.broadcast_to(geometry, clipped.shape)
    clipped = clipped.copy()
    clipped[broken] = shapely.intersection(shapes[broken], boxes[broken])
    return clipped
