"""Site files for the batch tests: small GeoPackages and GeoJSON FeatureCollections written in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyogrio.raw import write

#: south-west corner of the test grid of sites, near Yr Wyddfa (British National Grid metres)
CORNER = (258_000.0, 352_000.0)


def squares(columns: int, rows: int, side: float = 1000.0) -> list[tuple[str, Any]]:
    """``columns × rows`` adjacent squares of ``side`` metres near Snowdon, named ``s{i}{j}``.

    Neighbours share the tiles along their common edges."""
    x0, y0 = CORNER
    return [
        (f"s{i}{j}", shapely.box(x0 + i * side, y0 + j * side, x0 + (i + 1) * side, y0 + (j + 1) * side))
        for i in range(columns)
        for j in range(rows)
    ]


def write_gpkg(path: Path, features: list[tuple[Any, Any]], *, layer: str = "sites", field: str = "name") -> Path:
    """A GeoPackage layer of ``(name, shapely geometry in EPSG:27700)`` features."""
    geometries = np.array([shapely.to_wkb(g) for _, g in features], dtype=object)
    names = np.array([n for n, _ in features], dtype=object)
    write(str(path), geometries, [names], fields=[field], geometry_type="Polygon", crs="EPSG:27700", layer=layer)
    return path


def write_geojson(path: Path, features: list[tuple[Any, Any]], *, field: str = "name") -> Path:
    """A GeoJSON FeatureCollection (EPSG:27700 in the legacy ``crs`` member) of ``(name, geometry or None)``."""
    collection = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "EPSG:27700"}},
        "features": [
            {
                "type": "Feature",
                "properties": {field: name},
                "geometry": None if geometry is None else json.loads(shapely.to_geojson(geometry)),
            }
            for name, geometry in features
        ],
    }
    path.write_text(json.dumps(collection), encoding="utf-8")
    return path
