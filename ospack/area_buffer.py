"""Growing an area by a distance on the ground, for buffers of any size up to the whole Earth.

A projected CRS in metres is buffered in its own plane. A geographic area is buffered in an
azimuthal equidistant projection centred on it, where distances from the centre are true,
then brought back to longitude/latitude. A buffer big enough to reach round a pole or
across the antimeridian cannot come back vertex by vertex (its ring would cut across the
map), so each ring is unwrapped, closed over the pole it encircles, and cut at ±180°.
A buffer that reaches the centre's antipode covers the whole Earth. Either way the work is
bounded by the buffer's outline, never by its size.
"""

from __future__ import annotations

import numpy as np
import shapely
import shapely.affinity
from pyproj import CRS, Geod
from shapely.geometry.base import BaseGeometry

from .projection import DENSIFY_METRES, WGS84, clip_rect, polygonal, reproject, transform, transformer

_GEOD = Geod(ellps="WGS84")
_WORLD = (-180.0, -90.0, 180.0, 90.0)


def grow(geometry: BaseGeometry, crs: str, buffer_m: float) -> tuple[BaseGeometry, str]:
    """``geometry`` (in ``crs``) grown by ``buffer_m`` metres on the ground, and a note saying so."""
    note = f"grew the area by {buffer_m:g} m"
    parsed = CRS.from_user_input(crs)
    if parsed.is_projected and all(axis.unit_name in {"metre", "meter"} for axis in parsed.axis_info):
        return shapely.buffer(geometry, buffer_m, quad_segs=16), note
    lon, lat = reproject(geometry.centroid, crs, WGS84).coords[0]
    local = f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m +no_defs"
    around = reproject(geometry, crs, local)
    reach = buffer_m + float(np.hypot(*shapely.get_coordinates(around).T).max())
    antipode = _GEOD.inv(lon, lat, lon + 180.0 if lon <= 0 else lon - 180.0, -lat)[2]
    if reach >= antipode:
        return _in_crs(shapely.box(*_WORLD), crs), f"{note}, which reaches round the Earth: the area is the whole world"
    grown = shapely.buffer(around, buffer_m, quad_segs=16)
    if not _reaches_a_pole_or_the_antimeridian(grown, local):
        return reproject(grown, local, crs), note
    return _in_crs(_unwrapped(grown, local), crs), note


def _in_crs(lonlat: BaseGeometry, crs: str) -> BaseGeometry:
    return lonlat if crs == WGS84 else transform(lonlat, WGS84, crs)


def _poles(local: str) -> tuple[shapely.Point, shapely.Point]:
    x, y = transformer(WGS84, local).transform([0.0, 0.0], [90.0, -90.0])
    return shapely.Point(x[0], y[0]), shapely.Point(x[1], y[1])


def _reaches_a_pole_or_the_antimeridian(grown: BaseGeometry, local: str) -> bool:
    north, south = _poles(local)
    lats = np.linspace(-89.99, 89.99, 3600)
    x, y = transformer(WGS84, local).transform(np.full_like(lats, 180.0), lats)
    antimeridian = shapely.LineString(np.column_stack((x, y)))
    return bool(grown.intersects(north) or grown.intersects(south) or grown.intersects(antimeridian))


def _unwrapped(grown: BaseGeometry, local: str) -> BaseGeometry:
    """The aeqd ``grown`` in lon/lat, ring by ring, for shapes that go round a pole or cross ±180°."""
    north, south = _poles(local)
    regions = []
    for part in shapely.get_parts(shapely.orient_polygons(grown, exterior_cw=False)):
        shell = _ring_region(part.exterior, shapely.Polygon(part.exterior), local, north, south)
        holes = [_ring_region(h, shapely.Polygon(h), local, north, south) for h in part.interiors]
        regions.append(shapely.difference(shell, shapely.union_all(holes)) if holes else shell)
    unwrapped = shapely.union_all(regions)
    # cut at ±180° and fold the pieces back into one longitude range
    pieces = [
        shapely.affinity.translate(clip_rect(unwrapped, -180 + k, -90, 180 + k, 90), -k) for k in (-360.0, 0.0, 360.0)
    ]
    return polygonal(shapely.make_valid(shapely.union_all(pieces)))


def _ring_region(
    ring: BaseGeometry, inside: BaseGeometry, local: str, north: shapely.Point, south: shapely.Point
) -> BaseGeometry:
    """The lon/lat region on the left of ``ring`` (what ``inside`` covers in aeqd), longitudes unwrapped."""
    if not ring.is_ccw:  # holes come clockwise: walk them so that what they cut out is on the left
        ring = shapely.LinearRing(ring.coords[::-1])
    xy = shapely.get_coordinates(shapely.segmentize(ring, DENSIFY_METRES))
    lon, lat = transformer(local, WGS84).transform(xy[:, 0], xy[:, 1])
    lon = np.degrees(np.unwrap(np.radians(lon)))
    if abs(lon[-1] - lon[0]) > 180:  # once round a pole: close the ring over it
        pole = 90.0 if inside.intersects(north) else -90.0
        return shapely.make_valid(shapely.Polygon([*zip(lon, lat, strict=True), (lon[-1], pole), (lon[0], pole)]))
    outline = shapely.Polygon(zip(lon, lat, strict=True))
    if outline.exterior.is_ccw:
        return shapely.make_valid(outline)
    # clockwise in lon/lat: the ring goes round the far side of the Earth, and the region is all but it
    west = float(lon.min())
    return shapely.difference(shapely.box(west, -90, west + 360, 90), shapely.make_valid(outline))
