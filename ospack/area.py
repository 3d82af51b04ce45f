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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from .area_buffer import grow
from .area_formats import parse_geojson, parse_wkt, read_source
from .errors import AreaError
from .ostn15 import HELMERT_NOTE
from .projection import (
    USE_MARGIN_DEGREES,
    WGS84,
    flatten,
    is_geographic,
    normalise_crs,
    polygonal,
    reproject_marked,
    transformer,
    valid_region,
)
from .types import GeoBounds

__all__ = ["WGS84", "Area", "normalise_crs", "read_area", "transformer"]
#: Foreign member of :meth:`Area.to_geojson` that lets :meth:`Area.from_geojson` restore an area exactly.
_RECORD = "ospack:area"

#: Where Great Britain lies, used to recognise swapped latitude/longitude.
_GB_LONLAT = (-11.0, 49.0, 3.0, 62.0)


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
        Repairs and other facts the user should be told, including what reprojecting it found
        (part of it beyond OSTN15, so grown: see :mod:`ospack.ostn15`), added when it happens.
    """

    geometry: BaseGeometry
    crs: str
    source: str = "geometry"
    notes: tuple[str, ...] = ()
    _projected: dict[tuple[str, BaseGeometry | None], BaseGeometry] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def in_crs(self, crs: str, within: BaseGeometry | None = None) -> BaseGeometry:
        """Return the area in another CRS, densifying edges first so none is cut short.

        Parameters
        ----------
        crs : str
            Target CRS, anything pyproj reads (``EPSG:27700``, ``EPSG:3857`` …).
        within : shapely geometry, optional
            A polygon in the area's own CRS to cut the area to first, so that only the part
            inside it is reprojected (a projection far from where it is defined gives nonsense).

        Returns
        -------
        shapely geometry
            The polygonal area in ``crs`` (cached per CRS and ``within``).
        """
        target = normalise_crs(crs)
        if target == self.crs and within is None:
            return self.geometry
        key = (target, within)
        if key not in self._projected:
            cut = self.geometry if within is None else polygonal(shapely.intersection(self.geometry, within))
            approximate = False
            if target != self.crs and not cut.is_empty:
                cut, approximate = reproject_marked(cut, self.crs, target)
            self._projected[key] = cut
            if approximate and HELMERT_NOTE not in self.notes:
                # a fact about the area that only projecting it reveals: told with the rest
                object.__setattr__(self, "notes", (*self.notes, HELMERT_NOTE))
        return self._projected[key]

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
        geometry = json.loads(shapely.to_geojson(self.in_crs(WGS84)))  # first: projecting may add a note
        record: dict[str, Any] = {"crs": self.crs, "source": self.source, "notes": list(self.notes)}
        if self.crs != WGS84:
            record["wkt"] = self.to_wkt()
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


# --- checking, buffering, repairing ----------------------------------------------------


def _build(geometries: list[BaseGeometry], crs: str, source: str, buffer_m: float) -> Area:
    parts = [p for p in flatten(g for g in geometries if g is not None) if not p.is_empty]
    if not parts:
        raise AreaError(f"{source} holds no geometry; give at least one polygon")
    _check_coordinates(np.asarray(shapely.get_coordinates(parts)), crs, source)
    notes: list[str] = []
    polygons, others = _sorted_parts(parts, notes)
    if buffer_m > 0:
        lines = [p.boundary if p.geom_type == "Polygon" else p for p in others]
        geometry, note = grow(shapely.union_all([*polygons, *lines]), crs, buffer_m)
        notes.append(note)
    else:
        if not polygons:
            kinds = sorted({_kind(p) for p in others})
            raise AreaError(
                f"{source} holds only {' and '.join(kinds)}, which cover no area; "
                "give --buffer METRES to cover the ground around them"
            )
        if others:
            notes.append(
                f"ignored {len(others)} line/point part(s) without a buffer; give --buffer METRES to include them"
            )
        geometry = shapely.union_all(polygons)
    geometry = _within_valid_region(polygonal(geometry), crs, source, notes)
    if geometry.is_empty or geometry.area <= 0:
        raise AreaError(f"{source} encloses no area (its polygons have zero area)")
    return Area(geometry=geometry, crs=crs, source=source, notes=tuple(notes))


def _sorted_parts(parts: list[BaseGeometry], notes: list[str]) -> tuple[list[BaseGeometry], list[BaseGeometry]]:
    """Polygons (repaired) and the rest; a polygon of zero area is its outline, a line like any other."""
    repair = _repaired_polygon(notes)
    polygons, others = [], []
    for part in parts:
        repaired = repair(part) if part.geom_type == "Polygon" else None
        if repaired is not None:
            polygons.append(repaired)
        else:
            others.append(part)
    return polygons, others


def _kind(part: BaseGeometry) -> str:
    if part.geom_type == "Polygon":
        return "polygons of zero area (flat, like lines)"
    return f"{part.geom_type.lower()}s"


def _check_coordinates(coords: np.ndarray, crs: str, source: str) -> None:
    """Every coordinate a finite number, in range for a geographic CRS, plausible for a projected one."""
    if not np.isfinite(coords).all():
        raise AreaError(
            f"{source} has coordinates that are not numbers (NaN or infinity); every coordinate must be finite"
        )
    bounds = (*coords.min(axis=0), *coords.max(axis=0))
    if is_geographic(crs):
        _check_lonlat(bounds, crs)
    elif all(abs(v) <= limit for v, limit in zip(bounds, (180, 90, 180, 90), strict=True)):
        minx, miny, maxx, maxy = bounds
        raise AreaError(
            f"coordinates x {minx:g}…{maxx:g}, y {miny:g}…{maxy:g} look like longitude/latitude degrees, not "
            f"metres of {crs} (read as metres they are a patch {maxx - minx:.3g} m wide at the CRS's origin); "
            "if they are longitude/latitude, drop --area-crs or give --area-crs EPSG:4326"
        )


def _check_lonlat(bounds: tuple[float, ...], crs: str) -> None:
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    west, south, east, north = _GB_LONLAT
    in_gb = west <= minx and maxx <= east and south <= miny and maxy <= north
    swapped_in_gb = west <= miny and maxy <= east and south <= minx and maxx <= north
    if swapped_in_gb and not in_gb:
        raise AreaError(
            f"latitude and longitude look swapped: x runs {minx:g}…{maxx:g} and y {miny:g}…{maxy:g}, "
            "which is Great Britain read backwards; GeoJSON and WKT list longitude first, so swap each pair"
        )
    if -180 <= minx and maxx <= 180 and -90 <= miny and maxy <= 90:
        return
    if max(abs(minx), abs(maxx), abs(miny), abs(maxy)) > 360:
        raise AreaError(
            f"coordinates such as ({minx:.0f}, {miny:.0f}) cannot be longitude/latitude; "
            "if they are British National Grid eastings/northings, give --area-crs EPSG:27700"
        )
    wrong = [f"longitude {v:g}" for v in (minx, maxx) if abs(v) > 180]
    wrong += [f"latitude {v:g}" for v in (miny, maxy) if abs(v) > 90]
    wrong = list(dict.fromkeys(wrong))
    raise AreaError(
        f"{' and '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} out of range: longitude runs from -180 to 180 "
        "and latitude from -90 to 90 (GeoJSON, WKT and bboxes list longitude first); check the coordinates"
    )


def _within_valid_region(geometry: BaseGeometry, crs: str, source: str, notes: list[str]) -> BaseGeometry:
    """The area cut to where its projected CRS stands for places (see :func:`ospack.projection.valid_region`)."""
    region = valid_region(crs)
    if region is None or geometry.is_empty or shapely.contains_properly(region, geometry):
        return geometry
    cut = polygonal(shapely.intersection(geometry, region))
    if cut.is_empty or cut.area <= 0:
        raise AreaError(f"{source} lies wholly outside where {crs} is defined; check the coordinates and --area-crs")
    notes.append(f"cut the area to where {crs} is defined (its area of use and {USE_MARGIN_DEGREES:g}° round it)")
    return cut


def _repaired_polygon(notes: list[str]) -> Callable[[BaseGeometry], BaseGeometry | None]:
    def repair(polygon: BaseGeometry) -> BaseGeometry | None:
        if polygon.is_valid:
            return polygon if polygon.area > 0 else None
        reason = shapely.is_valid_reason(polygon)
        structure = polygonal(shapely.make_valid(polygon, method="structure"))
        linework = polygonal(shapely.make_valid(polygon, method="linework"))
        if structure.area <= 0 and linework.area <= 0:
            return None  # flat: its outline is a line
        difference = shapely.symmetric_difference(structure, linework).area
        if difference > 1e-9 * max(structure.area, linework.area):
            raise AreaError(
                f"the area has an invalid polygon ({reason}) that can be repaired in more than one way; "
                "fix it in a GIS (e.g. QGIS 'Fix geometries') and try again"
            )
        notes.append(f"repaired an invalid polygon with make_valid ({reason})")
        return structure

    return repair
