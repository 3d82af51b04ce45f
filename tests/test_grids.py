import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ospack.errors import GridError
from ospack.grids import get_grid, list_grids
from ospack.resources import read_json
from ospack.types import Tile

# Matrix sizes exactly as OS's WMTS GetCapabilities publishes them (a 2020 capture:
# dzfranklin/backpackingmap, os_service_metadata.xml)
OS_BNG_SIZES = [
    (5, 7),
    (10, 13),
    (20, 25),
    (40, 49),
    (80, 98),
    (159, 195),
    (318, 390),
    (636, 779),
    (1271, 1558),
    (2542, 3116),
    (5083, 6232),
    (10165, 12463),
    (20329, 24925),
    (40657, 49849),
]


def test_registry_lists_both_grids():
    assert list_grids() == ["EPSG:27700", "EPSG:3857"]


def test_unknown_grid_names_the_known_ones():
    with pytest.raises(GridError, match="EPSG:27700, EPSG:3857"):
        get_grid("EPSG:4326")


def test_bng_matches_os_capabilities():
    grid = get_grid("EPSG:27700")
    assert (grid.origin_x, grid.origin_y) == (-238375.0, 1376256.0)
    assert grid.tile_size == 256
    assert grid.matrix_sizes == tuple(OS_BNG_SIZES)
    assert grid.resolutions == tuple(896.0 / 2**z for z in range(14))
    assert grid.pyramid_bounds() == (-238375.0, -229376.0, 908505.0, 1376256.0)
    assert grid.pyramid_size(13) == (5 * 2**13, 7 * 2**13)


def test_bng_worked_example_from_os_tile_name_derivation():
    # E=337297, N=503695, z=7 -> col 321, row 486 (OrdnanceSurvey/tile-name-derivation)
    assert get_grid("EPSG:27700").tile_at(337297, 503695, 7) == Tile(7, 321, 486)


def test_web_mercator_matches_mercantile():
    mercantile = pytest.importorskip("mercantile")
    grid = get_grid("EPSG:3857")
    for tile in [Tile(7, 62, 40), Tile(12, 2010, 1300), Tile(20, 512000, 340000)]:
        expected = mercantile.xy_bounds(mercantile.Tile(tile.x, tile.y, tile.z))
        got = grid.tile_bounds(tile)
        assert got == pytest.approx(tuple(expected), abs=1e-6)


# millimetre coordinates: below that, float rounding decides which side of an edge a point is on
@given(st.integers(0, 13), st.integers(-238375000, 908504999), st.integers(-229375000, 1376255999))
def test_tile_at_and_tile_bounds_agree(z, x_mm, y_mm):
    grid = get_grid("EPSG:27700")
    x, y = x_mm / 1000, y_mm / 1000
    tile = grid.tile_at(x, y, z)
    left, bottom, right, top = grid.tile_bounds(tile)
    assert left <= x < right
    assert bottom < y <= top


def test_documents_state_axis_order_and_corner():
    for name in ("OSBritishNationalGrid", "WebMercatorQuad"):
        doc = read_json(f"tms/{name}.json")
        assert doc["orderedAxes"] in (["E", "N"], ["X", "Y"])
        assert {m["cornerOfOrigin"] for m in doc["tileMatrices"]} == {"topLeft"}


def test_zoom_outside_grid_is_refused():
    with pytest.raises(GridError, match="outside grid EPSG:27700"):
        get_grid("EPSG:27700").tile_span(14)


def test_grid_document_is_json_schema_shaped():
    doc = json.loads(json.dumps(read_json("tms/OSBritishNationalGrid.json")))
    assert doc["crs"].endswith("/EPSG/0/27700")
    assert len(doc["tileMatrices"]) == 14
