"""Tile cover speed: ospack against supermercado and mercantile+shapely, measured in one run.

Prints, for the Wales sample area:
  * enumeration tiles/s: ospack.cover (a stream of Tile tuples) and ospack.row_intervals
    expanded to numpy arrays, next to supermercado.burn (numpy) and mercantile.tiles + a
    shapely test per tile (EPSG:3857), or a bbox grid + vectorised shapely (EPSG:27700,
    which supermercado and mercantile cannot do);
  * count-only time: ospack.count next to the fastest baseline's enumeration;
and the count-only time for all of Great Britain at every zoom, against the 2 s target.

Run: ``python benchmarks/cover.py`` (about a minute on a 2-core machine).
Every figure is the median of a few runs; the machine may be shared, so expect ±20 %.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import mercantile
import numpy as np
import shapely
from shapely.geometry import mapping
from supermercado import burntiles

from ospack.area import read_area
from ospack.cover import count, cover, row_intervals
from ospack.estimate import estimate
from ospack.layers import get_layer, parse_zooms

SAMPLES = Path(__file__).resolve().parent.parent / "sample_areas"
GB_TARGET_SECONDS = 2.0


def timed(job: Callable[[], int], repeats: int = 3) -> tuple[float, int]:
    """Median seconds of ``job`` and what it returned (a tile count)."""
    times, result = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        result = job()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _drain(tiles) -> int:
    """Consume a tile stream as a caller would, and return its length."""
    counted = deque(enumerate(tiles, 1), maxlen=1)
    return counted[0][0] if counted else 0


def ospack_arrays(area, layer, zooms) -> int:
    return sum(len(run.to_array()) for run in row_intervals(area, layer, zooms))


def supermercado_features(area) -> list[dict]:
    """One feature per polygon: supermercado reads Polygons, not MultiPolygons; burn() unions them."""
    parts = shapely.get_parts(area.in_crs("EPSG:4326"))
    return [{"type": "Feature", "properties": {}, "geometry": mapping(part)} for part in parts]


def supermercado_arrays(area, zooms) -> int:
    features = supermercado_features(area)
    return sum(len(burntiles.burn(features, z)) for z in zooms)


def supermercado_stream(area, zooms) -> int:
    features = supermercado_features(area)
    return sum(_drain(map(tuple, burntiles.burn(features, z).tolist())) for z in zooms)


def mercantile_shapely(area, zooms) -> int:
    geometry = area.in_crs("EPSG:3857")
    shapely.prepare(geometry)
    west, south, east, north = area.bounds_wgs84()
    return sum(
        1
        for tile in mercantile.tiles(west, south, east, north, zooms)
        if geometry.intersects(shapely.box(*mercantile.xy_bounds(tile)))
    )


def bbox_grid_shapely(area, layer_name, zooms) -> int:
    """The brute-force cover on any grid: every tile of the bbox, vectorised shapely.intersects."""
    layer = get_layer(layer_name)
    grid = layer.grid
    geometry = area.in_crs(grid.crs)
    shapely.prepare(geometry)
    left, bottom, right, top = geometry.bounds
    total = 0
    for z in zooms:
        first, last, span = grid.tile_at(left, top, z), grid.tile_at(right, bottom, z), grid.tile_span(z)
        xs, ys = np.meshgrid(np.arange(first.x, last.x + 1), np.arange(first.y, last.y + 1))
        xs, ys = xs.ravel(), ys.ravel()
        boxes = shapely.box(
            grid.origin_x + xs * span,
            grid.origin_y - (ys + 1) * span,
            grid.origin_x + (xs + 1) * span,
            grid.origin_y - ys * span,
        )
        total += int(shapely.intersects(geometry, boxes).sum())
    return total


def row(label: str, seconds: float, tiles: int) -> None:
    print(f"  {label:<52} {tiles:>12,} tiles {seconds:>9.3f} s {tiles / seconds:>14,.0f} tiles/s")


def compare(label: str, ours: tuple[float, int], theirs: tuple[float, int]) -> None:
    (ours_s, ours_n), (theirs_s, theirs_n) = ours, theirs
    speed = (ours_n / ours_s) / (theirs_n / theirs_s)
    print(f"  → {label}: ospack {speed:.2f}× the baseline's tiles/s")


def main() -> None:
    wales = read_area(SAMPLES / "wales.geojson")
    gb = read_area(SAMPLES / "great-britain-coarse.geojson")
    print(
        f"Wales sample area: {wales.in_crs('EPSG:27700').area / 1e6:,.0f} km², "
        f"{shapely.get_num_coordinates(wales.geometry)} vertices"
    )

    print("\nEPSG:3857, Outdoor_3857 z7-17")
    zooms = parse_zooms("7-17", get_layer("Outdoor_3857"))
    stream = timed(lambda: _drain(cover(wales, "Outdoor_3857", zooms)))
    arrays = timed(lambda: ospack_arrays(wales, "Outdoor_3857", zooms))
    counted = timed(lambda: sum(count(wales, "Outdoor_3857", zooms).values()), repeats=5)
    burn = timed(lambda: supermercado_arrays(wales, zooms))
    burn_stream = timed(lambda: supermercado_stream(wales, zooms))
    row("ospack.cover (Tile stream)", *stream)
    row("ospack.row_intervals → numpy arrays", *arrays)
    row("ospack.count (count only)", *counted)
    row("supermercado.burn (numpy arrays, all_touched)", *burn)
    row("supermercado.burn → tuple stream", *burn_stream)
    compare("array enumeration vs supermercado.burn", arrays, burn)
    compare("tile stream vs supermercado.burn → tuples", stream, burn_stream)
    print(f"  → count only: ospack.count {burn[0] / counted[0]:.1f}× faster than supermercado.burn's enumeration")
    low = parse_zooms("7-14", get_layer("Outdoor_3857"))
    mercantile_job = timed(lambda: mercantile_shapely(wales, low), repeats=1)
    ours_low = timed(lambda: _drain(cover(wales, "Outdoor_3857", low)))
    row("mercantile.tiles + shapely per tile, z7-14", *mercantile_job)
    row("ospack.cover (Tile stream), z7-14", *ours_low)
    compare("tile stream vs mercantile+shapely, z7-14", ours_low, mercantile_job)

    print("\nEPSG:27700, Outdoor_27700 z0-13 (supermercado and mercantile are Web Mercator only)")
    zooms = parse_zooms("0-13", get_layer("Outdoor_27700"))
    stream = timed(lambda: _drain(cover(wales, "Outdoor_27700", zooms)), repeats=1)
    arrays = timed(lambda: ospack_arrays(wales, "Outdoor_27700", zooms), repeats=1)
    counted = timed(lambda: sum(count(wales, "Outdoor_27700", zooms).values()), repeats=5)
    row("ospack.cover (Tile stream)", *stream)
    row("ospack.row_intervals → numpy arrays", *arrays)
    row("ospack.count (count only)", *counted)
    low = parse_zooms("0-10", get_layer("Outdoor_27700"))
    brute = timed(lambda: bbox_grid_shapely(wales, "Outdoor_27700", low), repeats=1)
    ours_low = timed(lambda: ospack_arrays(wales, "Outdoor_27700", low))
    row("bbox grid + vectorised shapely.intersects, z0-10", *brute)
    row("ospack.row_intervals → numpy arrays, z0-10", *ours_low)
    compare("arrays vs bbox grid + shapely, z0-10", ours_low, brute)

    print("\nGreat Britain (coarse outline), ospack.estimate (count only), every zoom")
    for layer, spec in (("Road_27700", "0-13"), ("Road_3857", "7-20")):
        seconds, tiles = timed(lambda layer=layer, spec=spec: estimate(gb, layer, spec).total)
        verdict = "meets" if seconds < GB_TARGET_SECONDS else "MISSES"
        print(
            f"  {layer} z{spec}: {tiles:,} tiles counted in {seconds:.3f} s "
            f"({verdict} the {GB_TARGET_SECONDS:g} s target; {GB_TARGET_SECONDS / seconds:.1f}× margin)"
        )


if __name__ == "__main__":
    sys.exit(main())
