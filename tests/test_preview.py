"""The plan picture (``ospack preview AREA``), checked by its pixels: where the area's outline lands,
which tiles are coloured how, and that the counts are those of ``ospack.plan``."""

from __future__ import annotations

import math
from importlib import import_module

import pytest
from PIL import Image
from test_writers_support import AREA_BOX, finished_package, tamper

import ospack
from ospack import preview_draw as draw
from ospack.errors import IncompatibleOutputError, UsageError
from ospack.layers import get_layer
from ospack.types import Tile
from ospack.writers import OutputOptions, open_package

preview_module = import_module("ospack.preview")  # the module: ``ospack.preview`` is the function
LAYER = "Outdoor_27700"
GRID = get_layer(LAYER).grid
#: a pentagon on the flank of Yr Wyddfa in British National Grid metres: no reprojection to argue about
VERTICES = [(259_300.0, 353_100.0), (262_700.0, 353_600.0), (263_100.0, 356_200.0), (260_900.0, 357_300.0)]
AREA_WKT = "POLYGON ((" + ", ".join(f"{x} {y}" for x, y in [*VERTICES, VERTICES[0]]) + "))"
BOX = ",".join(map(str, AREA_BOX))


def plan_picture(zoom: int, area: str = AREA_WKT, **options) -> ospack.Preview:
    crs = {"area_crs": "EPSG:27700"} if area is AREA_WKT else {}
    return ospack.preview_plan(area, LAYER, zoom, **crs, **options)


def expected_origin(zoom: int, bounds: tuple[float, float, float, float]) -> tuple[float, float]:
    """Grid x, y of the picture's top-left: the area's tiles, one tile more on every side (recomputed here)."""
    span = GRID.tile_span(zoom)
    min_col = math.floor((bounds[0] - GRID.origin_x) / span) - 1
    min_row = math.floor((GRID.origin_y - bounds[3]) / span) - 1
    return GRID.origin_x + min_col * span, GRID.origin_y - min_row * span


def near(image: Image.Image, xy: tuple[float, float], colour, radius: int = 2) -> bool:
    x0, y0 = round(xy[0]), round(xy[1])
    return any(
        image.getpixel((x, y)) == colour
        for x in range(x0 - radius, x0 + radius + 1)
        for y in range(y0 - radius, y0 + radius + 1)
    )


def share(image: Image.Image, box: tuple[int, int, int, int], colour) -> float:
    """The share of a square's pixels that are ``colour``."""
    left, top, right, bottom = box
    pixels = [image.getpixel((x, y)) for x in range(left, right + 1, 2) for y in range(top, bottom + 1, 2)]
    return sum(p == colour for p in pixels) / len(pixels)


def square(preview: ospack.Preview, tile: Tile) -> tuple[int, int, int, int]:
    """A tile's square, recomputed from the grid (not from the view's own mapping)."""
    left, top = preview.view.left, preview.view.top
    span, cell = GRID.tile_span(tile.z), preview.view.cell
    x = round((GRID.origin_x + tile.x * span - left) / span * cell)
    y = round((top - (GRID.origin_y - tile.y * span)) / span * cell)
    return x, y, x + cell - 1, y + cell - 1


@pytest.mark.parametrize("zoom", [7, 9])
def test_every_vertex_of_the_area_lands_on_the_outline_where_the_grid_puts_it(zoom):
    picture = plan_picture(zoom)
    xs, ys = zip(*VERTICES, strict=True)
    left, top = expected_origin(zoom, (min(xs), min(ys), max(xs), max(ys)))
    assert (picture.view.left, picture.view.top) == (left, top)
    metres_per_pixel = GRID.tile_span(zoom) / picture.view.cell
    for x, y in VERTICES:
        pixel = ((x - left) / metres_per_pixel, (top - y) / metres_per_pixel)
        assert near(picture.image, pixel, draw.OUTLINE), (zoom, (x, y), pixel)
    # and nowhere far from it: the middle of the area is plain tile colour
    middle = ((261_500 - left) / metres_per_pixel, (top - 355_200) / metres_per_pixel)
    assert not near(picture.image, middle, draw.OUTLINE, radius=6)


def test_the_squares_coloured_are_the_plans_tiles_and_the_counts_are_the_plans():
    zoom = 9
    picture = plan_picture(zoom)
    tiles = list(ospack.cover(ospack.read_area(AREA_WKT, area_crs="EPSG:27700"), LAYER, [zoom]))
    planned = ospack.plan(AREA_WKT, LAYER, zoom, area_crs="EPSG:27700").counts[LAYER][zoom]
    assert len(tiles) == planned == picture.counts["planned"] == picture.counts["opendata"]
    assert picture.counts["premium"] == picture.counts["held"] == 0
    for tile in tiles:
        assert share(picture.image, square(picture, tile), draw.OPENDATA) > 0.7, tile
    outside = Tile(zoom, tiles[0].x, tiles[0].y - 1)  # the row above the first tile: the one-tile margin
    assert share(picture.image, square(picture, outside), draw.WHITE) > 0.9
    assert share(picture.image, square(picture, outside), draw.OPENDATA) == 0


def test_a_plan_value_is_drawn_with_its_own_area():
    job = ospack.plan(AREA_WKT, LAYER, "7-9", area_crs="EPSG:27700")
    picture = ospack.preview_plan(job, LAYER, 8)
    assert picture.counts["planned"] == job.counts[LAYER][8]
    assert picture.image.tobytes() == plan_picture(8).image.tobytes()


def test_a_premium_zoom_is_coloured_premium():
    picture = plan_picture(10)
    assert picture.counts["premium"] == picture.counts["planned"] > 0 and picture.counts["opendata"] == 0
    first = next(ospack.cover(ospack.read_area(AREA_WKT, area_crs="EPSG:27700"), LAYER, [10]))
    assert share(picture.image, square(picture, first), draw.PREMIUM) > 0.5


def test_tiles_already_in_the_output_are_coloured_held_and_the_rest_to_fetch(tmp_path):
    zoom = 8
    path = finished_package(tmp_path / "box.gpkg", LAYER, (zoom,))
    tiles = list(ospack.cover(ospack.read_area(BOX), LAYER, [zoom]))
    gone = tiles[len(tiles) // 2]
    tamper(path, (f"DELETE FROM {LAYER.lower()} WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?", gone))
    picture = ospack.preview_plan(BOX, LAYER, zoom, against=path)
    assert picture.counts["planned"] == len(tiles)
    assert picture.counts["held"] == len(tiles) - 1 and picture.counts["to_fetch"] == 1
    for tile in tiles:
        colour = draw.OPENDATA if tile == gone else draw.HELD
        assert share(picture.image, square(picture, tile), colour) > 0.5, tile


def test_squares_of_several_tiles_count_the_held_ones_exactly_and_shade_by_their_share(tmp_path, monkeypatch):
    zoom = 9
    path = finished_package(tmp_path / "box.gpkg", LAYER, (zoom,))  # the box's tiles, 8 of them beyond its cover
    tiles = list(ospack.cover(ospack.read_area(BOX), LAYER, [zoom]))
    gone = tiles[len(tiles) // 2]
    tamper(path, (f"DELETE FROM {LAYER.lower()} WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?", gone))
    picture = ospack.preview_plan(BOX, LAYER, zoom, against=path, max_px=24)  # too small for a square a tile
    factor = picture.view.factor
    assert factor > 1
    assert picture.counts["held"] == len(tiles) - 1 and picture.counts["to_fetch"] == 1  # the 8 beyond: not held
    box = picture.view.square_box(gone.x, gone.y)
    in_square = [t for t in tiles if (t.x // factor, t.y // factor) == (gone.x // factor, gone.y // factor)]
    expected = preview_module._blend(draw.OPENDATA, draw.HELD, (len(in_square) - 1) / len(in_square))
    assert picture.image.getpixel((box[0] + 1, box[1] + 1)) == expected
    # beyond the exact limit the same picture counts by square, and says so
    monkeypatch.setattr(preview_module, "EXACT_LIMIT", 0)
    rough = ospack.preview_plan(BOX, LAYER, zoom, against=path, max_px=24)
    assert any("counted by square" in note for note in rough.notes)
    assert rough.counts["planned"] == len(tiles) and rough.counts["held"] <= len(tiles)


def test_an_output_that_does_not_exist_yet_holds_nothing(tmp_path):
    picture = ospack.preview_plan(BOX, LAYER, 8, against=tmp_path / "new.gpkg")
    assert picture.counts["held"] == 0 and picture.counts["to_fetch"] == picture.counts["planned"]


def test_an_output_of_another_grid_or_layer_is_refused(tmp_path):
    path = finished_package(tmp_path / "road.gpkg", "Road_27700", (8,))
    with pytest.raises(IncompatibleOutputError, match="holds Road_27700, not Outdoor_27700"):
        ospack.preview_plan(BOX, LAYER, 8, against=path)
    mercator = finished_package(tmp_path / "m.mbtiles", "Outdoor_3857", (12,))
    with pytest.raises(IncompatibleOutputError, match="EPSG:3857"):
        ospack.preview_plan(BOX, LAYER, 8, against=mercator)


def test_a_zoom_too_deep_for_one_square_a_tile_draws_blocks_within_the_size_and_keeps_exact_counts():
    area = "sample_areas/wales.geojson"
    zoom = 13  # about 26 million tiles
    picture = ospack.preview_plan(area, LAYER, zoom)
    assert max(picture.image.size) <= draw.MAX_PIXELS
    assert picture.view.factor > 1 and picture.view.cell >= draw.MIN_CELL
    assert picture.counts["planned"] == ospack.count(ospack.read_area(area), LAYER, [zoom])[zoom]
    assert any("stands for" in note for note in picture.notes)
    # a block deep inside Wales is coloured: the block holds planned tiles
    x, y = 300_000.0, 270_000.0  # near Builth Wells
    px = picture.view.to_pixel(x, y)
    assert picture.image.getpixel((round(px[0]), round(px[1]))) == draw.PREMIUM


def test_every_picture_stays_within_2000_pixels():
    for area, zoom in (("sample_areas/great-britain-coarse.geojson", 9), (AREA_WKT, 0), (AREA_WKT, 13)):
        crs = {"area_crs": "EPSG:27700"} if area is AREA_WKT else {}
        picture = ospack.preview_plan(area, LAYER, zoom, **crs)
        assert max(picture.image.size) <= draw.MAX_PIXELS, (area, zoom, picture.image.size)


def test_preview_tells_an_area_from_a_package_and_refuses_options_of_the_other_kind(tmp_path):
    path = finished_package(tmp_path / "box.gpkg", LAYER, (8,))
    assert ospack.preview(path).kind == "file"
    assert ospack.preview(BOX, layer=LAYER, zoom=8).kind == "plan"
    with pytest.raises(UsageError, match="--against do not apply"):
        ospack.preview(path, against=path)
    with pytest.raises(UsageError, match="needs --zoom"):
        ospack.preview(BOX, layer=LAYER)


def test_save_writes_a_png_and_refuses_another_name(tmp_path):
    picture = plan_picture(7)
    with Image.open(picture.save(tmp_path / "plan.png")) as back:
        assert back.format == "PNG" and back.size == picture.image.size
    with pytest.raises(UsageError, match=r"plan\.png"):
        picture.save(tmp_path / "plan.jpg")


def test_scale_bar_lengths_are_round_and_fit():
    assert draw.scale_bar_metres(1.75, 300) == 500
    assert draw.scale_bar_metres(10.0, 300) == 2000
    assert draw.distance_text(448) == "448 m" and draw.distance_text(1792) == "1.8 km"
    assert draw.distance_text(2000) == "2 km"


@pytest.mark.parametrize(
    ("name", "layer", "zoom", "options"),
    [
        ("box.gpkg", LAYER, 9, None),
        ("box.mbtiles", "Outdoor_3857", 13, None),
        ("d.mbtiles", "Outdoor_3857", 13, OutputOptions(dedup=True)),
    ],
)
def test_the_package_file_reads_the_tiles_of_a_window_at_one_zoom_as_xyz(tmp_path, name, layer, zoom, options):
    from test_writers_support import bbox_tiles, render_tile

    path = finished_package(tmp_path / name, layer, (zoom - 1, zoom), options)
    tiles = bbox_tiles(layer, zoom)
    window = ospack.TileRange(tiles[0].x + 1, tiles[-1].x, tiles[0].y, tiles[-1].y - 1)
    with open_package(path) as package:
        read = dict(package.tile_images(package.table_of(layer), zoom, window))
    assert sorted(read) == sorted(t for t in tiles if window.holds(t))
    assert all(data == render_tile(tile) for tile, data in read.items())  # XYZ rows: the MBTiles flip undone


def test_a_context_zoom_draws_the_region_that_package_fetches_and_counts_it():
    zoom = 4  # tiles of 57 km: the 25 km context reaches beyond the area
    job = ospack.plan(AREA_WKT, LAYER, zoom, area_crs="EPSG:27700")
    picture = plan_picture(zoom)
    region_tiles = list(job.cover(get_layer(LAYER)).tiles(zoom))
    area_only = ospack.plan(AREA_WKT, LAYER, zoom, area_crs="EPSG:27700", context=0).counts[LAYER][zoom]
    assert picture.counts["planned"] == job.counts[LAYER][zoom] == len(region_tiles) > area_only
    for tile in region_tiles:
        assert share(picture.image, square(picture, tile), draw.OPENDATA) > 0.7, tile
    assert any("around the area" in note for note in picture.notes)
    assert plan_picture(zoom, context=0).counts["planned"] == area_only
