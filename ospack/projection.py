"""CRS names and reprojection of polygonal areas: the geometry maths :mod:`ospack.area` builds on.

Pure functions, no I/O: reprojection densifies edges first (a straight edge bends
when reprojected) and keeps only the areal parts of what comes out.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

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
    return Transformer.from_crs(source, target, always_xy=True)


@cache
def is_geographic(crs: str) -> bool:
    return bool(CRS.from_user_input(crs).is_geographic)


def transform(geometry: BaseGeometry, source: str, target: str) -> BaseGeometry:
    """Move every vertex from ``source`` to ``target`` as it is (no densifying, no repair)."""
    to_target = transformer(source, target)
    return shapely.transform(geometry, lambda xy: np.column_stack(to_target.transform(xy[:, 0], xy[:, 1])))


def reproject(geometry: BaseGeometry, source: str, target: str) -> BaseGeometry:
    """The polygonal ``geometry`` in ``target``, edges densified first; AreaError where it cannot go."""
    if is_geographic(source) and normalise_crs(target) == "EPSG:3857":
        geometry = clip_rect(geometry, -180, -MERCATOR_MAX_LAT, 180, MERCATOR_MAX_LAT)
    step = DENSIFY_DEGREES if is_geographic(source) else DENSIFY_METRES
    projected = transform(shapely.segmentize(geometry, step), source, target)
    if not np.isfinite(shapely.get_coordinates(projected)).all():
        raise AreaError(f"the area cannot be projected to {target}: it lies outside where that CRS is defined")
    if not projected.is_valid:
        projected = polygonal(shapely.make_valid(projected))
    return projected


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
    region = reproject(shapely.box(west, south, east, north), WGS84, crs)
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
