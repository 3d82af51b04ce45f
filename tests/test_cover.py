"""The tile cover against brute force, mercantile, and golden files for every sample area.

Regenerate the golden files (only after checking a change is right) with
``python tests/test_cover.py --write-golden``.
"""

import sys
from pathlib import Path

import mercantile
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ospack.area import Area, read_area
from ospack.cover import EDGE_TOLERANCE, count, cover
from ospack.errors import AreaOutsideGridError, ZoomError
from ospack.layers import get_layer, parse_zooms
from ospack.types import Tile

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = Path(__file__).resolve().parent / "expected"

# (sample file, layer, zooms, buffer metres): the golden covers
GOLDEN = [
    ("yr-wyddfa", "Outdoor_27700", "0-10", 0),
    ("yr-wyddfa", "Outdoor_3857", "7-15", 0),
    ("cairngorms-plateau", "Road_27700", "0-8", 0),
    ("isles-of-scilly", "Leisure_27700", "0-8", 0),
    ("isles-of-scilly", "Light_3857", "7-14", 0),
    ("pennine-way-edale-crowden", "Outdoor_27700", "0-8", 500),
    ("bala-lake-shore", "Outdoor_27700", "6-10", 0),
    ("ben-nevis-27700", "Road_27700", "0-9", 0),
    ("edinburgh-old-town", "Road_3857", "7-16", 0),
    ("wales", "Outdoor_27700", "0-5", 0),
    ("wales", "Outdoor_3857", "7-10", 0),
    ("great-britain-coarse", "Road_27700", "0-3", 0),
]


def brute_force(area, layer, zooms):
    """Every candidate tile tested with shapely: does the square's interior meet the area's?

    The 2-D overlap must be wider than the cover's edge tolerance (a billionth of a tile).
    """
    layer = get_layer(layer) if isinstance(layer, str) else layer
    geometry = area.in_crs(layer.grid.crs)
    shapely.prepare(geometry)
    left, bottom, right, top = geometry.bounds
    found = []
    for z in zooms:
        served = layer.tile_range(z)
        first = layer.grid.tile_at(left, top, z)
        last = layer.grid.tile_at(right, bottom, z)
        span = layer.grid.tile_span(z)
        for y in range(max(first.y - 1, served.min_row), min(last.y + 1, served.max_row) + 1):
            for x in range(max(first.x - 1, served.min_col), min(last.x + 1, served.max_col) + 1):
                # Shrunk by the cover's edge tolerance: float noise (a few nm at 1e7 m) can make
                # an area drawn on one zoom's edges overlap a deeper zoom's tile by a sliver.
                box = shapely.box(*layer.grid.tile_bounds(Tile(z, x, y))).buffer(
                    -EDGE_TOLERANCE * span, join_style="mitre"
                )
                if geometry.intersects(box) and geometry.intersection(box).area > 1e-12 * span * span:
                    found.append(Tile(z, x, y))
    return found


# --- random areas on a lattice of 1/8 tile, so vertices often lie exactly on tile edges ---


@st.composite
def lattice_areas(draw, layer_name):
    """An Area in the layer's grid CRS built from lattice shapes: unions, several parts, holes."""
    layer = get_layer(layer_name)
    z = draw(st.sampled_from([z for z in layer.zooms if z <= layer.min_zoom + 6]))
    served = layer.tile_range(z)
    # anchor near the layer's limits sometimes, so clipping to them is exercised
    col0 = draw(st.integers(served.min_col - 3, max(served.min_col - 3, served.max_col - 6)))
    row0 = draw(st.integers(served.min_row - 3, max(served.min_row - 3, served.max_row - 6)))
    size = 8 * 6  # six tiles, in eighths

    def point():
        return (draw(st.integers(0, size)) / 8, draw(st.integers(0, size)) / 8)

    def shape():
        kind = draw(st.sampled_from(["star", "box", "triangle"]))
        if kind == "box":
            (x0, y0), (x1, y1) = point(), point()
            return shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        if kind == "triangle":
            return shapely.Polygon([point(), point(), point()])
        centre = np.array(point())
        n = draw(st.integers(4, 10))
        angles = np.sort(np.array(draw(st.lists(st.floats(0, 2 * np.pi), min_size=n, max_size=n, unique=True))))
        radii = np.array(draw(st.lists(st.integers(1, 24), min_size=n, max_size=n))) / 8
        ring = np.round((centre + np.c_[radii * np.cos(angles), radii * np.sin(angles)]) * 8) / 8
        return shapely.make_valid(shapely.Polygon(ring))

    geometry = shapely.union_all([shape() for _ in range(draw(st.integers(1, 3)))])
    if draw(st.booleans()):
        geometry = shapely.difference(geometry, shape())  # a hole, or a bite out of the edge
    geometry = shapely.get_parts(geometry)
    polygons = [g for g in geometry if g.geom_type in ("Polygon", "MultiPolygon") and g.area > 0]
    if not polygons:
        polygons = [shapely.box(1, 1, 2.5, 2)]
    in_tiles = shapely.union_all(polygons)
    grid = layer.grid
    span = grid.tile_span(z)
    metres = shapely.transform(
        in_tiles,
        lambda xy: np.c_[grid.origin_x + (col0 + xy[:, 0]) * span, grid.origin_y - (row0 + xy[:, 1]) * span],
    )
    zooms = sorted({z, min(z + draw(st.integers(0, 2)), layer.max_zoom)})
    return Area(geometry=metres, crs=grid.crs, source="lattice"), zooms


def assert_cover_is_exact(area, layer_name, zooms):
    try:
        tiles = list(cover(area, layer_name, zooms))
    except AreaOutsideGridError:
        assert brute_force(area, layer_name, zooms) == []
        return
    assert tiles == brute_force(area, layer_name, zooms)  # same tiles, same (zoom, row, column) order
    assert count(area, layer_name, zooms) == {z: sum(t.z == z for t in tiles) for z in zooms}


# A valid polygon on which GEOS's rectangle clip fails ("LinearRing found 3 points"): a vertex
# 2.5e-16 tile from the left edge of Leisure_27700's zoom-1 tiles. Found by hypothesis.
GEOS_CLIP_BREAKER = (
    "POLYGON ((0.125 0, -1 0, -1 2.5, -1 2.625, -0.4218749999999995 2.5, 2.5376526277146434e-16 2.5, -0.625 3.125,"
    " -0.75 4, -0.625 4, -0.625 3.875, 0.0625 2.5, 0.125 2.5, 0.125 2.3817567567567557, 3.625 1.625,"
    " 0.125 0.3952702702702697, 0.125 0))"
)


def test_a_polygon_that_breaks_the_fast_rectangle_clip_is_still_covered_exactly():
    layer = get_layer("Leisure_27700")
    grid, span = layer.grid, layer.grid.tile_span(1)
    in_tiles = shapely.from_wkt(GEOS_CLIP_BREAKER)
    with pytest.raises(shapely.errors.GEOSException):
        shapely.clip_by_rect(in_tiles, 0, 0, 10, 13)  # still broken in GEOS: the fallback is needed
    metres = shapely.transform(
        in_tiles, lambda xy: np.c_[grid.origin_x + xy[:, 0] * span, grid.origin_y - xy[:, 1] * span]
    )
    assert_cover_is_exact(Area(geometry=metres, crs=grid.crs, source="lattice"), "Leisure_27700", [1])


def test_a_hole_touching_the_shell_on_the_grid_edge_is_covered_exactly():
    # GEOS's rectangle clip returns an invalid self-touching ring for this one (found by hypothesis):
    # the area lies mostly west of the grid, a hole meets the shell at a vertex inside tile 0/0/0
    area = Area(
        geometry=shapely.from_wkt(
            "POLYGON ((-697127 1347584, -209703 1347584, -209703 1605632, -697127 1605632, -697127 1347584),"
            " (-668455 1576960, -410407 1576960, -209703 1347584, -668455 1576960))"
        ),
        crs="EPSG:27700",
        source="lattice",
    )
    assert list(cover(area, "Road_27700", [0])) == [Tile(0, 0, 0)]
    assert_cover_is_exact(area, "Road_27700", [0])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lattice_areas("Road_27700"))
def test_cover_matches_brute_force_on_british_national_grid(case):
    assert_cover_is_exact(case[0], "Road_27700", case[1])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lattice_areas("Road_3857"))
def test_cover_matches_brute_force_on_web_mercator_within_limits(case):
    assert_cover_is_exact(case[0], "Road_3857", case[1])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lattice_areas("Leisure_27700"))
def test_cover_respects_leisure_limits(case):
    assert_cover_is_exact(case[0], "Leisure_27700", case[1])


def tile_square(layer_name, z, x0, y0, x1, y1):
    """An Area whose corners are exactly on tile corners x0,y0 … x1,y1 (tile units)."""
    grid = get_layer(layer_name).grid
    span = grid.tile_span(z)
    box = shapely.box(
        grid.origin_x + x0 * span, grid.origin_y - y1 * span, grid.origin_x + x1 * span, grid.origin_y - y0 * span
    )
    return Area(geometry=box, crs=grid.crs)


def test_a_square_on_tile_edges_takes_no_neighbours():
    area = tile_square("Road_27700", 9, 100, 200, 103, 202)
    assert list(cover(area, "Road_27700", 9)) == [Tile(9, x, y) for y in (200, 201) for x in (100, 101, 102)]
    # one zoom down the same square is exactly four times as many tiles
    assert count(area, "Road_27700", 10) == {10: 24}


def test_a_diamond_through_tile_corners_keeps_only_tiles_it_enters():
    grid = get_layer("Road_27700").grid
    span = grid.tile_span(5)
    x, y = grid.origin_x + 50 * span, grid.origin_y - 60 * span  # a tile corner
    diamond = shapely.Polygon([(x - span, y), (x, y + span), (x + span, y), (x, y - span)])
    tiles = list(cover(Area(geometry=diamond, crs=grid.crs), "Road_27700", 5))
    assert tiles == [Tile(5, 49, 59), Tile(5, 50, 59), Tile(5, 49, 60), Tile(5, 50, 60)]


def test_holes_and_multipolygons_are_honoured():
    grid = get_layer("Road_27700").grid
    span = grid.tile_span(8)
    ox, oy = grid.origin_x + 300 * span, grid.origin_y - 400 * span
    ring = shapely.box(ox, oy - 5 * span, ox + 5 * span, oy).difference(
        shapely.box(ox + span, oy - 4 * span, ox + 4 * span, oy - span)
    )
    island = shapely.box(ox + 2.25 * span, oy - 2.75 * span, ox + 2.75 * span, oy - 2.25 * span)  # inside the hole
    area = Area(geometry=shapely.MultiPolygon([ring, island]), crs=grid.crs)
    tiles = {(t.x - 300, t.y - 400) for t in cover(area, "Road_27700", 8)}
    assert len(tiles) == 16 + 1
    assert (1, 1) not in tiles and (2, 2) in tiles


@pytest.mark.parametrize("name", ["yr-wyddfa", "isles-of-scilly", "edinburgh-old-town", "bala-lake-shore"])
def test_web_mercator_numbering_agrees_with_mercantile(name):
    area = read_area(ROOT / "sample_areas" / f"{name}.geojson")
    west, south, east, north = area.bounds_wgs84()
    layer = get_layer("Road_3857")
    for z in (12, 15):
        geometry = area.in_crs("EPSG:3857")
        expected = [
            Tile(t.z, t.x, t.y)
            for t in mercantile.tiles(west, south, east, north, [z])
            if geometry.intersection(shapely.box(*mercantile.xy_bounds(t))).area > 0
            and layer.serves(Tile(t.z, t.x, t.y))
        ]
        assert sorted(cover(area, layer, z), key=lambda t: (t.y, t.x)) == sorted(expected, key=lambda t: (t.y, t.x))


def test_count_agrees_with_enumeration_for_wales():
    area = read_area(ROOT / "sample_areas" / "wales.geojson")
    counts = count(area, "Outdoor_27700", "0-10")
    assert sum(counts.values()) == sum(1 for _ in cover(area, "Outdoor_27700", "0-10"))
    # Wales is ~21,000 km² and a z10 tile 224 m square: the count must be at least the area's worth
    assert counts[10] * 224**2 > area.in_crs("EPSG:27700").area


def test_cover_is_lazy():
    area = read_area(ROOT / "sample_areas" / "great-britain-coarse.geojson")
    tiles = cover(area, "Road_3857", "20")
    assert next(tiles).z == 20  # 300-odd million tiles: only a generator can answer at once


def test_area_outside_the_grid_names_the_layer():
    area = read_area("10.0,45.0,10.1,45.1")  # northern Italy
    with pytest.raises(AreaOutsideGridError, match=r"Road_3857.*lon"):
        cover(area, "Road_3857", "7-9")
    with pytest.raises(AreaOutsideGridError, match="Outdoor_27700"):
        count(area, "Outdoor_27700", "9")


def test_zoom_outside_the_layer_is_refused():
    area = read_area(ROOT / "sample_areas" / "yr-wyddfa.geojson")
    with pytest.raises(ZoomError, match="7-20"):
        count(area, "Road_3857", "5")


# --- golden covers for the sample areas ---------------------------------------------------


def golden_path(name, layer, zooms, buffer_m):
    suffix = f"-buffer{buffer_m}" if buffer_m else ""
    return EXPECTED / f"{name}{suffix}.{layer}.z{zooms}.txt"


def golden_area(name, buffer_m):
    return read_area(ROOT / "sample_areas" / f"{name}.geojson", buffer_m=buffer_m)


@pytest.mark.parametrize("name, layer, zooms, buffer_m", GOLDEN)
def test_golden_cover(name, layer, zooms, buffer_m):
    area = golden_area(name, buffer_m)
    tiles = list(cover(area, layer, zooms))
    lines = golden_path(name, layer, zooms, buffer_m).read_text().split()
    assert [f"{t.z}/{t.x}/{t.y}" for t in tiles] == lines
    assert tiles == brute_force(area, layer, parse_zooms(zooms, get_layer(layer)))


def write_golden():
    EXPECTED.mkdir(exist_ok=True)
    for name, layer, zooms, buffer_m in GOLDEN:
        tiles = cover(golden_area(name, buffer_m), layer, zooms)
        golden_path(name, layer, zooms, buffer_m).write_text("".join(f"{t.z}/{t.x}/{t.y}\n" for t in tiles))


if __name__ == "__main__" and "--write-golden" in sys.argv:
    write_golden()


def test_ospack_cover_is_the_function_even_after_the_module_is_imported():
    import ospack
    import ospack.cover  # binds the module to ospack.cover

    area = read_area(ROOT / "sample_areas" / "yr-wyddfa.geojson")
    assert list(ospack.cover(area, "Outdoor_27700", 9)) == list(cover(area, "Outdoor_27700", 9))
    assert ospack.count(area, "Outdoor_27700", 9) == {9: 34}
