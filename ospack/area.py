"""Reading an area: GeoJSON, WKT, a bbox, any vector file GDAL reads, or a shapely geometry.

:func:`read_area` turns what the user gave into an :class:`Area`: one valid,
polygonal geometry in a known CRS, grown by a buffer measured on the ground,
with notes of anything repaired on the way. Every problem is an
:class:`~ospack.errors.AreaError` whose message says what is wrong and what to do.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

from .area_formats import parse_geojson, parse_wkt, read_source
from .errors import AreaError, CrsError
from .types import GeoBounds

WGS84 = "EPSG:4326"
#: Foreign member of :meth:`Area.to_geojson` that lets :meth:`Area.from_geojson` restore an area exactly.
_RECORD = "ospack:area"

#: Longest edge allowed before reprojecting, in source units. Straight edges bend when
#: reprojected; at these lengths the bend is a few centimetres, far below a tile.
_DENSIFY_DEGREES = 0.01
_DENSIFY_METRES = 1000.0

#: Where Great Britain lies, used to recognise swapped latitude/longitude.
_GB_LONLAT = (-11.0, 49.0, 3.0, 62.0)
_MERCATOR_MAX_LAT = 85.0511287798066


@dataclass(frozen=True)
class Area:
    """A polygonal area in a known CRS, ready to be covered with tiles.

    Attributes
    ----------
    geometry : shapely Polygon or MultiPolygon
        The area after buffering and repair, in ``crs``.
    crs : str
        The CRS of ``geometry``, e.g. ``EPSG:4326`` or ``EPSG:27700``.
    source : str
        What was read (a path, ``WKT``, ``bbox …``, ``GeoJSON`` or ``shapely geometry``).
    notes : tuple of str
        Repairs and other facts the user should be told.
    """

    geometry: BaseGeometry
    crs: str
    source: str = "geometry"
    notes: tuple[str, ...] = ()
    _projected: dict[str, BaseGeometry] = field(default_factory=dict, init=False, repr=False, compare=False)

    def in_crs(self, crs: str) -> BaseGeometry:
        """Return the area in another CRS, densifying edges first so none is cut short.

        Parameters
        ----------
        crs : str
            Target CRS, anything pyproj reads (``EPSG:27700``, ``EPSG:3857`` …).

        Returns
        -------
        shapely geometry
            The polygonal area in ``crs`` (cached per CRS).
        """
        target = normalise_crs(crs)
        if target == self.crs:
            return self.geometry
        if target not in self._projected:
            self._projected[target] = _reproject(self.geometry, self.crs, target)
        return self._projected[target]

    def bounds_wgs84(self) -> GeoBounds:
        """The area's bounding box in longitude/latitude degrees."""
        return GeoBounds(*self.in_crs(WGS84).bounds)

    def to_geojson(self) -> str:
        """The area as a GeoJSON geometry in WGS84 (RFC 7946), for provenance.

        A foreign member ``"ospack:area"`` records the CRS, source and notes and, when the
        area is not in WGS84, its exact WKT, so :meth:`from_geojson` gives back this very
        area: a cover recomputed from it is identical, even where an edge lies exactly on
        a tile edge (a trip through WGS84 alone moves edges by micrometres).
        """
        record: dict[str, Any] = {"crs": self.crs, "source": self.source, "notes": list(self.notes)}
        if self.crs != WGS84:
            record["wkt"] = self.to_wkt()
        geometry = json.loads(shapely.to_geojson(self.in_crs(WGS84)))
        return json.dumps({**geometry, _RECORD: record})

    def to_wkt(self) -> str:
        """The area as WKT, in the area's own CRS (``crs``), at full precision."""
        return str(shapely.to_wkt(self.geometry, rounding_precision=-1))

    @classmethod
    def from_geojson(cls, text: str, source: str = "GeoJSON") -> Area:
        """Read an area from GeoJSON text, e.g. one written by :meth:`to_geojson`.

        Text from :meth:`to_geojson` gives back the same area (geometry, CRS, source and
        notes); any other GeoJSON is read as :func:`read_area` would.
        """
        geometries, crs = parse_geojson(text, source)
        data = json.loads(text)
        record = data.get(_RECORD) if isinstance(data, dict) else None
        if not isinstance(record, dict):
            return _build(geometries, normalise_crs(crs) if crs else WGS84, source, buffer_m=0.0)
        native_crs = normalise_crs(str(record.get("crs", WGS84)))
        if "wkt" in record:
            geometries = [parse_wkt(str(record["wkt"]))]
        area = _build(geometries, native_crs, str(record.get("source", source)), buffer_m=0.0)
        return replace(area, notes=tuple(str(note) for note in record.get("notes", [])))


def read_area(source: Any, *, area_crs: str | None = None, buffer_m: float = 0.0) -> Area:
    """Read an area to cover with tiles.

    Parameters
    ----------
    source : str, os.PathLike or shapely geometry
        A path to GeoJSON (Geometry, Feature or FeatureCollection) or to any vector
        file GDAL reads (Shapefile, GeoPackage, KML, GPX …); or GeoJSON text, WKT,
        or a bbox ``minx,miny,maxx,maxy``; or a shapely geometry.
    area_crs : str, optional
        CRS of the coordinates, overriding what the source says. GeoJSON, WKT,
        bboxes and shapely geometries are taken as WGS84 longitude/latitude otherwise.
    buffer_m : float
        Grow the area by this many metres, measured on the ground. Lines and
        points are only accepted with a buffer.

    Returns
    -------
    Area

    Raises
    ------
    AreaError
        When the source cannot be read or holds no usable area.
    """
    if not math.isfinite(buffer_m) or buffer_m < 0:
        raise AreaError(f"buffer must be a distance of 0 metres or more, not {buffer_m}")
    override = normalise_crs(area_crs) if area_crs else None
    if isinstance(source, BaseGeometry):
        return _build([source], override or WGS84, "shapely geometry", buffer_m)
    if not isinstance(source, (str, os.PathLike)):
        raise AreaError(f"cannot read an area from a {type(source).__name__}; give a path, GeoJSON, WKT or a bbox")
    geometries, crs, label = read_source(os.fspath(source))
    return _build(geometries, override or (normalise_crs(crs) if crs else WGS84), label, buffer_m)


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
def _is_geographic(crs: str) -> bool:
    return bool(CRS.from_user_input(crs).is_geographic)


def _reproject(geometry: BaseGeometry, source: str, target: str) -> BaseGeometry:
    if _is_geographic(source) and normalise_crs(target) == "EPSG:3857":
        geometry = shapely.clip_by_rect(geometry, -180, -_MERCATOR_MAX_LAT, 180, _MERCATOR_MAX_LAT)
    step = _DENSIFY_DEGREES if _is_geographic(source) else _DENSIFY_METRES
    dense = shapely.segmentize(geometry, step)
    to_target = transformer(source, target)
    projected = shapely.transform(dense, lambda xy: np.column_stack(to_target.transform(xy[:, 0], xy[:, 1])))
    if not np.isfinite(shapely.get_coordinates(projected)).all():
        raise AreaError(f"the area cannot be projected to {target}: it lies outside where that CRS is defined")
    if not projected.is_valid:
        projected = _polygonal(shapely.make_valid(projected))
    return projected


# --- checking, buffering, repairing ----------------------------------------------------


def _build(geometries: list[BaseGeometry], crs: str, source: str, buffer_m: float) -> Area:
    parts = [p for p in _flatten(g for g in geometries if g is not None) if not p.is_empty]
    if not parts:
        raise AreaError(f"{source} holds no geometry; give at least one polygon")
    if _is_geographic(crs):
        _check_lonlat(shapely.total_bounds(parts), crs)
    notes: list[str] = []
    polygons = [p for p in parts if p.geom_type == "Polygon"]
    others = [p for p in parts if p.geom_type != "Polygon"]
    if buffer_m > 0:
        notes.append(f"grew the area by {buffer_m:g} m")
        geometry = _buffer(shapely.union_all([*map(_repaired_polygon(notes), polygons), *others]), crs, buffer_m)
    else:
        if not polygons:
            kinds = sorted({p.geom_type for p in others})
            raise AreaError(
                f"{source} holds only {' and '.join(k.lower() + 's' for k in kinds)}, which cover no area; "
                "give --buffer METRES to cover the ground around them"
            )
        if others:
            notes.append(
                f"ignored {len(others)} line/point part(s) without a buffer; give --buffer METRES to include them"
            )
        geometry = shapely.union_all([_repaired_polygon(notes)(p) for p in polygons])
    geometry = _polygonal(geometry)
    if geometry.is_empty or geometry.area <= 0:
        raise AreaError(f"{source} encloses no area (its polygons have zero area)")
    return Area(geometry=geometry, crs=crs, source=source, notes=tuple(notes))


def _check_lonlat(bounds: np.ndarray, crs: str) -> None:
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    if not (-180 <= minx and maxx <= 180 and -90 <= miny and maxy <= 90):
        if max(abs(minx), abs(maxx), abs(miny), abs(maxy)) > 360:
            raise AreaError(
                f"coordinates such as ({minx:.0f}, {miny:.0f}) cannot be longitude/latitude; "
                "if they are British National Grid eastings/northings, give --area-crs EPSG:27700"
            )
        if -90 <= minx and maxx <= 90 and -180 <= miny and maxy <= 180:
            raise AreaError(
                f"latitude and longitude look swapped (x {minx:g}…{maxx:g}, y {miny:g}…{maxy:g}); "
                "GeoJSON and WKT list longitude first, so swap each coordinate pair"
            )
        raise AreaError(
            f"coordinates ({minx:g}, {miny:g}, {maxx:g}, {maxy:g}) are not longitude/latitude; give --area-crs"
        )
    west, south, east, north = _GB_LONLAT
    in_gb = west <= minx and maxx <= east and south <= miny and maxy <= north
    swapped_in_gb = west <= miny and maxy <= east and south <= minx and maxx <= north
    if swapped_in_gb and not in_gb:
        raise AreaError(
            f"latitude and longitude look swapped: x runs {minx:g}…{maxx:g} and y {miny:g}…{maxy:g}, "
            "which is Great Britain read backwards; GeoJSON and WKT list longitude first, so swap each pair"
        )


def _repaired_polygon(notes: list[str]):  # type: ignore[no-untyped-def]
    def repair(polygon: BaseGeometry) -> BaseGeometry:
        if polygon.is_valid:
            return polygon
        reason = shapely.is_valid_reason(polygon)
        structure = _polygonal(shapely.make_valid(polygon, method="structure"))
        linework = _polygonal(shapely.make_valid(polygon, method="linework"))
        if structure.area <= 0 and linework.area <= 0:
            raise AreaError(f"the area has a polygon that encloses no area ({reason}); check its coordinates")
        difference = shapely.symmetric_difference(structure, linework).area
        if difference > 1e-9 * max(structure.area, linework.area):
            raise AreaError(
                f"the area has an invalid polygon ({reason}) that can be repaired in more than one way; "
                "fix it in a GIS (e.g. QGIS 'Fix geometries') and try again"
            )
        notes.append(f"repaired an invalid polygon with make_valid ({reason})")
        return structure

    return repair


def _flatten(geometries: Iterable[BaseGeometry]) -> list[BaseGeometry]:
    """Single parts of geometries, collections of collections included."""
    parts = list(shapely.get_parts(list(geometries)))
    while any(p.geom_type == "GeometryCollection" for p in parts):
        parts = list(shapely.get_parts(parts))
    return parts


def _polygonal(geometry: BaseGeometry) -> BaseGeometry:
    """Keep only the areal parts of a geometry, as a Polygon or MultiPolygon."""
    if geometry.geom_type in {"Polygon", "MultiPolygon"}:
        return geometry
    polygons = [p for p in _flatten([geometry]) if p.geom_type == "Polygon" and p.area > 0]
    if not polygons:
        return shapely.Polygon()
    return shapely.union_all(polygons) if len(polygons) > 1 else polygons[0]


def _buffer(geometry: BaseGeometry, crs: str, buffer_m: float) -> BaseGeometry:
    parsed = CRS.from_user_input(crs)
    if parsed.is_projected and all(axis.unit_name in {"metre", "meter"} for axis in parsed.axis_info):
        return shapely.buffer(geometry, buffer_m, quad_segs=16)
    # buffer in an equidistant projection centred on the area, so metres are ground metres
    lon, lat = _reproject(geometry.centroid, crs, WGS84).coords[0]
    local = f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m +no_defs"
    grown = shapely.buffer(_reproject(geometry, crs, local), buffer_m, quad_segs=16)
    return _reproject(grown, local, crs)
