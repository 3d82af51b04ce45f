"""The formats an area can come in: GeoJSON, WKT, a bbox, or any vector file GDAL reads.

Each reader returns the geometries found and the name of the CRS the source
declares (``None`` when it declares none); :mod:`ospack.area` checks, repairs
and reprojects them. Every problem is an :class:`~ospack.errors.AreaError`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from .errors import AreaError

BBOX = re.compile(r"^\s*(-?[\d.eE+-]+)\s*,\s*(-?[\d.eE+-]+)\s*,\s*(-?[\d.eE+-]+)\s*,\s*(-?[\d.eE+-]+)\s*$")
WKT_START = re.compile(
    r"^\s*(SRID=\d+;\s*)?(MULTI)?(POLYGON|POINT|LINESTRING|GEOMETRYCOLLECTION)\b", re.IGNORECASE
)
#: GPX point layers repeat the vertices of its tracks and routes.
REDUNDANT_LAYERS = {"track_points", "route_points"}


def read_source(text: str) -> tuple[list[BaseGeometry], str | None, str]:
    """Read a path, a bbox, GeoJSON text or WKT.

    Returns
    -------
    geometries, crs name or None, and a label for what was read (the path, ``bbox …``, ``GeoJSON``, ``WKT``).
    """
    if Path(text).is_file():
        return (*read_file(Path(text)), text)
    stripped = text.strip()
    if match := BBOX.match(stripped):
        return [parse_bbox(match.groups(), stripped)], None, f"bbox {stripped}"
    if stripped.startswith("{"):
        return (*parse_geojson(stripped, "GeoJSON text"), "GeoJSON")
    if WKT_START.match(stripped):
        return [parse_wkt(stripped)], None, "WKT"
    if Path(text).exists():
        raise AreaError(f"{text} is a folder, not an area file; give the file inside it")
    if os.sep in text or "." in Path(text).name:
        raise AreaError(f"area file {text} does not exist; check the path")
    raise AreaError(f"cannot read area {text!r}: give a file path, GeoJSON, WKT or a bbox minx,miny,maxx,maxy")


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
        layers = [name for name, _ in pyogrio.list_layers(path) if name not in REDUNDANT_LAYERS]
        geometries: list[BaseGeometry] = []
        crs = None
        for layer in layers:
            meta, _, wkb, _ = pyogrio.raw.read(path, layer=layer, columns=[])
            if wkb is None:
                continue
            geometries.extend(g for g in shapely.from_wkb(wkb) if g is not None)
            crs = crs or meta.get("crs")
    except (DataSourceError, DataLayerError) as exc:
        raise AreaError(
            f"cannot read area file {path}: GDAL does not recognise it as a vector file ({first_line(exc)})"
        ) from None
    return geometries, crs


def parse_geojson(text: str, source: str) -> tuple[list[BaseGeometry], str | None]:
    try:
        data = json.loads(text)
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
        try:
            yield shapely.from_geojson(json.dumps(data))
        except shapely.errors.GEOSException as exc:
            raise AreaError(f"{source} holds a GeoJSON object shapely cannot read: {first_line(exc)}") from None


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
    try:
        return shapely.from_wkt(text)
    except shapely.errors.GEOSException as exc:
        raise AreaError(f"cannot read the area as WKT: {first_line(exc)}") from None


def parse_bbox(parts: Iterable[str], text: str) -> BaseGeometry:
    try:
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except ValueError:
        raise AreaError(f"cannot read bbox {text!r}; write minx,miny,maxx,maxy") from None
    if not (minx < maxx and miny < maxy):
        raise AreaError(f"bbox {text!r} is empty or reversed; write minx,miny,maxx,maxy with min < max")
    return shapely.box(minx, miny, maxx, maxy)


def first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
