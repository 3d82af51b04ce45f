"""Reading the sites of a batch: one named area per feature of a vector file.

``ospack package sites.gpkg --each name -o 'out/{name}.gpkg'`` makes one output per feature.
:func:`read_sites` reads the features (any vector file GDAL reads: GeoPackage, Shapefile,
GeoJSON FeatureCollection, KML …) and builds each one's :class:`~ospack.area.Area` with exactly
the checks, repairs, CRS handling and buffer a single area gets. A feature that cannot be a
site (no geometry, an unusable one, a name that is no safe file name, a name two features
share) is a :class:`BadFeature`, reported with its index and name; the batch skips it.
Problems of the whole source (unreadable, no such field, several layers and none chosen) are
errors: nothing can be planned from it.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from .area import Area, normalise_crs
from .area import _build as build_area  # one feature is one area: the same checks, repairs and buffer
from .area_formats import REDUNDANT_LAYERS, first_line
from .errors import AreaError, UsageError
from .projection import WGS84

#: longest name a site may have, in bytes: file systems take 255, and the template adds to it
MAX_NAME_BYTES = 200


@dataclass(frozen=True)
class Site:
    """One feature of the source, ready to plan: its index (from 0, in the source's order), name and area."""

    index: int
    name: str
    area: Area


@dataclass(frozen=True)
class BadFeature:
    """A feature that is no site, and why."""

    index: int
    name: str | None
    reason: str

    def __str__(self) -> str:
        named = f" {self.name!r}" if self.name is not None else ""
        return f"feature {self.index}{named}: {self.reason}"


@dataclass(frozen=True)
class SiteSource:
    """What :func:`read_sites` found: the usable sites, and the features skipped with their reasons."""

    path: str
    field: str
    layer: str
    sites: tuple[Site, ...]
    bad: tuple[BadFeature, ...]


def read_sites(
    source: str | os.PathLike[str],
    field: str,
    *,
    layer: str | None = None,
    area_crs: str | None = None,
    buffer_m: float = 0.0,
) -> SiteSource:
    """Read every feature of ``source`` as a site named by its ``field``.

    Raises
    ------
    AreaError
        The source cannot be read, or holds no feature.
    UsageError
        ``field`` is not a field of the layer, or the source has several layers and ``layer`` is not given.
    """
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    path = Path(source)
    if not path.exists():
        raise AreaError(f"site file {path} does not exist; check the path")
    try:
        chosen = _layer(path, layer, pyogrio.list_layers(path))
        fields = [str(name) for name in pyogrio.read_info(path, layer=chosen)["fields"]]
        if field not in fields:
            known = ", ".join(fields) or "none"
            raise UsageError(f"{path} layer {chosen!r} has no field {field!r} for --each (its fields: {known})")
        meta, _, wkb, values = pyogrio.raw.read(path, layer=chosen, columns=[field])
    except (DataSourceError, DataLayerError) as exc:
        raise AreaError(f"cannot read site file {path}: {first_line(exc)}") from None
    names = values[0]
    if wkb is None or len(wkb) == 0:
        raise AreaError(f"{path} layer {chosen!r} holds no feature")
    crs = normalise_crs(area_crs) if area_crs else (normalise_crs(meta["crs"]) if meta.get("crs") else WGS84)
    sites: list[Site] = []
    bad: list[BadFeature] = []
    for index, (blob, value) in enumerate(zip(wkb, names, strict=True)):
        name = None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
        problem = name_problem(name)
        if problem is not None:
            bad.append(BadFeature(index, name, problem))
            continue
        assert name is not None
        try:
            geometry = None if blob is None else shapely.from_wkb(blob)
            area = build_area([] if geometry is None else [geometry], crs, f"{path} feature {index} {name!r}", buffer_m)
        except (AreaError, shapely.errors.GEOSException) as exc:
            bad.append(BadFeature(index, name, first_line(exc)))
            continue
        sites.append(Site(index, name, area))
    return SiteSource(str(path), field, chosen, *_unique(sites, bad))


def _layer(path: Path, layer: str | None, listed: np.ndarray) -> str:
    layers = [str(name) for name, kind in listed if kind and name not in REDUNDANT_LAYERS]
    if layer is not None:
        if layer not in layers:
            raise UsageError(f"{path} has no layer {layer!r} with geometries (its layers: {', '.join(layers)})")
        return layer
    if not layers:
        raise AreaError(f"{path} has no layer with geometries")
    if len(layers) > 1:
        raise UsageError(f"{path} has {len(layers)} layers ({', '.join(layers)}); pick one with --source-layer")
    return layers[0]


def name_problem(name: str | None) -> str | None:
    """Why ``name`` cannot stand in a file name, or None when it can.

    The name replaces ``{FIELD}`` in the output path, so it must name one file in the output's
    folder: no separator, no ``.``/``..``, no control character, not empty, not too long.
    """
    if name is None:
        return "the field is empty (NULL); give every feature a name"
    if not name.strip():
        return "the name is empty; give every feature a name"
    if any(sep in name for sep in ("/", "\\", os.sep)):
        return "the name holds a path separator (/ or \\), so it would not name one file"
    if name.strip() in {".", ".."}:
        return f"the name {name!r} is a folder reference, not a file name"
    if any(unicodedata.category(c) == "Cc" for c in name):
        return "the name holds a control character (a tab, a newline, NUL …)"
    if len(name.encode()) > MAX_NAME_BYTES:
        return f"the name is longer than {MAX_NAME_BYTES} bytes, too long for a file name"
    return None


def _unique(sites: list[Site], bad: list[BadFeature]) -> tuple[tuple[Site, ...], tuple[BadFeature, ...]]:
    """Sites whose names no other feature shares; the others join the bad, every one of them.

    Names are compared case-folded: on macOS and Windows ``Site`` and ``site`` are one file.
    Which of the two was meant cannot be told, so neither is packaged.
    """
    seen: dict[str, list[Site]] = {}
    for site in sites:
        seen.setdefault(site.name.casefold(), []).append(site)
    kept = [site for site in sites if len(seen[site.name.casefold()]) == 1]
    for group in (g for g in seen.values() if len(g) > 1):
        others = ", ".join(str(s.index) for s in group)
        bad += [
            BadFeature(s.index, s.name, f"features {others} share this name (one output each is needed)") for s in group
        ]
    return tuple(kept), tuple(sorted(bad, key=lambda b: b.index))
