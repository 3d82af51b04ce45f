"""The formats an area can come in: GeoJSON, WKT, a bbox, or any vector file GDAL reads.

Each reader returns the geometries found and the name of the CRS the source
declares (``None`` when it declares none); :mod:`ospack.area` checks, repairs
and reprojects them. Every problem is an :class:`~ospack.errors.AreaError`.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from .errors import AreaError

#: One number as a user may write it in a bbox, NaN and infinity included (so they can be refused by name).
NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|nan|inf|infinity)\s*$", re.IGNORECASE)
FILE_SUFFIX = re.compile(r"^\.[A-Za-z][A-Za-z0-9]*$")
WKT_START = re.compile(r"^\s*(SRID=\d+;\s*)?(MULTI)?(POLYGON|POINT|LINESTRING|GEOMETRYCOLLECTION)\b", re.IGNORECASE)
#: GPX point layers repeat the vertices of its tracks and routes.
REDUNDANT_LAYERS = {"track_points", "route_points"}


def read_source(text: str) -> tuple[list[BaseGeometry], str | None, str]:
    """Read a path, a bbox, GeoJSON text or WKT.

    Returns
    -------
    geometries, crs name or None, and a label for what was read (the path, ``bbox …``, ``GeoJSON``, ``WKT``).
    """
    stripped = text.strip()
    if not stripped:
        raise AreaError("the area is empty; give a file path, GeoJSON, WKT or a bbox minx,miny,maxx,maxy")
    if _names(text, Path.is_file):
        return (*read_file(Path(text)), text)
    if looks_like_numbers(stripped):
        return [parse_bbox(stripped)], None, f"bbox {stripped}"
    if stripped.startswith("{"):
        return (*parse_geojson(stripped, "GeoJSON text"), "GeoJSON")
    if WKT_START.match(stripped):
        return [parse_wkt(stripped)], None, "WKT"
    if _names(text, Path.exists):
        raise AreaError(f"{text} is a folder, not an area file; give the file inside it")
    if os.sep in text or "." in Path(text).name:
        raise AreaError(f"area file {text} does not exist; check the path")
    raise AreaError(f"cannot read area {text!r}: give a file path, GeoJSON, WKT or a bbox minx,miny,maxx,maxy")


def _names(text: str, test: Callable[[Path], bool]) -> bool:
    """``test`` of ``text`` as a path; text no file system takes as a name (too long, a NUL) names nothing.

    WKT or GeoJSON past the system's name limit (4 KB on Linux) made ``is_file`` raise.
    """
    try:
        return test(Path(text))
    except (OSError, ValueError):
        return False


def read_file(path: Path) -> tuple[list[BaseGeometry], str | None]:
    try:
        with path.open("rb") as file:
            head = file.read(64).lstrip()
    except OSError as exc:
        raise AreaError(f"cannot read area file {path}: {exc.strerror or exc}") from None
    if path.suffix.lower() in {".geojson", ".json"} or head.startswith(b"{"):
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise AreaError(f"cannot read area file {path} as UTF-8 GeoJSON: {exc}") from None
        return parse_geojson(text, str(path))
    if path.suffix.lower() in {".wkt", ".txt"}:
        return [parse_wkt(path.read_text(encoding="utf-8"))], None
    return read_with_gdal(path)


def read_with_gdal(path: Path) -> tuple[list[BaseGeometry], str | None]:
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    try:
        # tables without geometry (a GeoPackage's attribute tables, ospack's own bookkeeping) hold no area
        layers = [name for name, kind in pyogrio.list_layers(path) if kind and name not in REDUNDANT_LAYERS]
        geometries: list[BaseGeometry] = []
        crs = None
        for layer in layers:
            meta, _, wkb, _ = pyogrio.raw.read(path, layer=layer, columns=[])
            if wkb is None:
                continue
            with np.errstate(invalid="ignore"):  # NaN coordinates are refused, in words, once read
                geometries.extend(g for g in shapely.from_wkb(wkb) if g is not None)
            crs = crs or meta.get("crs")
    except (DataSourceError, DataLayerError) as exc:
        raise AreaError(
            f"cannot read area file {path}: GDAL does not recognise it as a vector file ({first_line(exc)})"
        ) from None
    return geometries, crs


def parse_geojson(text: str, source: str) -> tuple[list[BaseGeometry], str | None]:
    try:
        data = json.loads(text, parse_constant=_not_a_number)
    except _NotANumber as exc:
        raise AreaError(
            f"{source} has the value {exc}, which is not a number in JSON; every coordinate must be a finite number"
        ) from None
    except json.JSONDecodeError as exc:
        raise AreaError(f"{source} is not valid JSON ({exc.msg} at line {exc.lineno}); give GeoJSON") from None
    if not isinstance(data, dict) or "type" not in data:
        raise AreaError(f"{source} is JSON but not GeoJSON: it has no 'type' member")
    return list(geojson_geometries(data, source)), legacy_crs_name(data, source)


def geojson_geometries(data: dict[str, Any], source: str) -> Iterable[BaseGeometry]:
    kind = data.get("type")
    if kind == "FeatureCollection":
        for feature in data.get("features") or []:
            yield from geojson_geometries(feature, source)
    elif kind == "Feature":
        if data.get("geometry"):
            yield from geojson_geometries(data["geometry"], source)
    else:
        _check_rings(data, source)
        try:
            yield shapely.from_geojson(json.dumps(data))
        except shapely.errors.GEOSException as exc:
            raise AreaError(f"{source} holds a GeoJSON geometry that cannot be read: {geos_reason(exc)}") from None


class _NotANumber(ValueError):
    pass


def _not_a_number(name: str) -> None:
    raise _NotANumber(name)


def _check_rings(geometry: dict[str, Any], source: str) -> None:
    """Refuse, in GeoJSON's own terms, polygon rings too short or not closed."""
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    if kind == "GeometryCollection":
        for member in geometry.get("geometries") or []:
            if isinstance(member, dict):
                _check_rings(member, source)
        return
    polygons = [coordinates] if kind == "Polygon" else coordinates if kind == "MultiPolygon" else []
    for polygon in polygons if isinstance(polygons, list) else []:
        for ring in polygon if isinstance(polygon, list) else []:
            if not isinstance(ring, list):
                continue
            if len(ring) < 4:
                raise AreaError(f"{source} has a polygon ring of {len(ring)} position(s); {_RING_RULE}")
            if ring[0] != ring[-1]:
                raise AreaError(f"{source} has a polygon ring that does not close; {_RING_RULE}")


_RING_RULE = "a ring needs at least 4 positions, the last repeating the first (a triangle has 4)"


def geos_reason(exc: Exception) -> str:
    """What a GEOS reading error means, without its class names."""
    text = re.sub(r"^\w*Exception: ", "", first_line(exc))
    if "LinearRing do not form a closed" in text:
        return f"a polygon ring does not close; {_RING_RULE}"
    if match := re.search(r"Invalid number of points in LinearRing found (\d+)", text):
        return f"a polygon ring has {match.group(1)} points; {_RING_RULE}"
    return text[:1].lower() + text[1:]


def legacy_crs_name(data: dict[str, Any], source: str) -> str | None:
    crs = data.get("crs")
    if not crs:
        return None
    name = (crs.get("properties") or {}).get("name") if isinstance(crs, dict) else None
    if not name:
        raise AreaError(f"{source} has a 'crs' member without a name; remove it or give --area-crs")
    return str(name)


def parse_wkt(text: str) -> BaseGeometry:
    text = re.sub(r"^\s*SRID=\d+;", "", text.strip(), flags=re.IGNORECASE)
    if match := re.search(r"\b(nan|inf|infinity)\b", text, re.IGNORECASE):
        raise AreaError(
            f"the WKT has the value {match.group(0)}, which is not a number; every coordinate must be finite"
        )
    try:
        return shapely.from_wkt(text)
    except shapely.errors.GEOSException as exc:
        raise AreaError(f"cannot read the area as WKT: {geos_reason(exc)}") from None


def looks_like_numbers(text: str) -> bool:
    """True for comma-separated text that is mostly numbers: meant as a bbox, whatever is wrong with it."""
    terms = text.split(",")
    if len(terms) < 2 or os.sep in text or FILE_SUFFIX.match(Path(text).suffix):
        return False
    return 2 * sum(bool(NUMBER.match(t)) for t in terms) >= len(terms)


def parse_bbox(text: str) -> BaseGeometry:
    terms = text.split(",")
    usage = "a bbox is four finite numbers minx,miny,maxx,maxy (west,south,east,north)"
    if len(terms) != 4:
        raise AreaError(f"bbox {text!r} has {len(terms)} values; {usage}")
    bad = [repr(t.strip()) if t.strip() else "an empty value" for t in terms if not _finite(t)]
    if bad:
        raise AreaError(f"bbox {text!r} has {', '.join(bad)}; {usage}")
    minx, miny, maxx, maxy = (float(t) for t in terms)
    if not (minx < maxx and miny < maxy):
        raise AreaError(f"bbox {text!r} is empty or reversed; write minx,miny,maxx,maxy with min < max")
    return shapely.box(minx, miny, maxx, maxy)


def _finite(term: str) -> bool:
    return bool(NUMBER.match(term)) and math.isfinite(float(term))


def first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
