"""The picture of a package (``ospack preview FILE``), checked by its pixels: each stored tile where its
address puts it (MBTiles rows flipped back), the recorded area's outline, a missing tile crossed out
where it is missing, an absent one hatched; and the CLI over both pictures."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from test_writers_support import (
    bbox_tiles,
    fill,
    finished_package,
    make_job,
    quadrant_colour,
    tamper,
)

import ospack
from ospack import preview_draw as draw
from ospack.area import Area
from ospack.cli import cli
from ospack.errors import LayerError, WriterError, ZoomError
from ospack.layers import get_layer
from ospack.types import Tile
from ospack.writers import open_writer
from ospack.writers.state import record_absent

LAYER = "Outdoor_27700"
SNOWDON = str(Path(__file__).resolve().parent.parent / "sample_areas" / "yr-wyddfa.geojson")


def demo_package(area: str, output, layer: str, zooms: str) -> ospack.PackageSummary:
    """A package from the demo emulator; the one place this module calls ``ospack.package``."""
    unpaced = ospack.FetchSettings(rate=ospack.RatePolicy.unpaced())
    return ospack.package(area, output, layers=layer, zooms=zooms, settings=unpaced, api=ospack.ApiAccess(demo=True))


def cover(layer: str, zoom: int) -> list[Tile]:
    area = Area.from_geojson(make_job(layer, (zoom,)).area_geojson)
    return list(ospack.cover(area, layer, [zoom]))


def square(picture: ospack.Preview, tile: Tile) -> tuple[int, int, int, int]:
    """A tile's square, recomputed from the grid and the window of the area's box (not the view's mapping)."""
    grid = get_layer(picture.layer).grid
    first = bbox_tiles(picture.layer, tile.z)[0]  # the window: the tiles of the area's bounding box
    cell = picture.view.cell
    x, y = (tile.x - first.x) * cell, (tile.y - first.y) * cell
    assert grid.tile_bounds(first).left == picture.view.left
    return x, y, x + cell - 1, y + cell - 1


@pytest.mark.parametrize(("name", "layer", "zoom"), [("box.gpkg", LAYER, 9), ("box.mbtiles", "Outdoor_3857", 13)])
def test_each_stored_tile_is_drawn_where_its_address_puts_it(tmp_path, name, layer, zoom):
    path = finished_package(tmp_path / name, layer, (zoom,))
    picture = ospack.preview_file(path)
    assert picture.zoom == zoom and picture.counts["missing"] == 0
    assert picture.counts["stored"] == picture.counts["planned"] == len(cover(layer, zoom))
    for tile in cover(layer, zoom):
        left, top, right, _ = square(picture, tile)
        quarter = (right - left) // 4
        for q, (dx, dy) in enumerate([(1, 1), (3, 1), (1, 3), (3, 3)]):
            pixel = picture.image.getpixel((left + dx * quarter, top + dy * quarter))
            if pixel not in (draw.OUTLINE,) and not _near_outline(
                picture.image, left + dx * quarter, top + dy * quarter
            ):
                assert pixel == quadrant_colour(tile, q), (tile, q)


def _near_outline(image: Image.Image, x: int, y: int, radius: int = 3) -> bool:
    return any(
        image.getpixel((i, j)) == draw.OUTLINE
        for i in range(max(0, x - radius), x + radius + 1)
        for j in range(max(0, y - radius), y + radius + 1)
    )


def test_the_recorded_areas_corners_land_on_the_outline(tmp_path):
    zoom = 9
    path = finished_package(tmp_path / "box.gpkg", LAYER, (zoom,))
    picture = ospack.preview_file(path, zoom=zoom)
    grid = get_layer(LAYER).grid
    first = bbox_tiles(LAYER, zoom)[0]
    left, top = grid.tile_bounds(first).left, grid.tile_bounds(first).top
    metres_per_pixel = grid.tile_span(zoom) / picture.view.cell
    projected = Area.from_geojson(make_job(LAYER, (zoom,)).area_geojson).in_crs(grid.crs)
    corners = [min(projected.exterior.coords, key=key) for key in (_west, _east, _south, _north)]
    for x, y in corners:
        pixel = ((x - left) / metres_per_pixel, (top - y) / metres_per_pixel)
        assert _near_outline(picture.image, round(pixel[0]), round(pixel[1]), radius=2), (x, y, pixel)


def _west(xy):
    return xy[0]


def _east(xy):
    return -xy[0]


def _south(xy):
    return xy[1]


def _north(xy):
    return -xy[1]


@pytest.mark.parametrize(("name", "layer", "zoom"), [("box.gpkg", LAYER, 9), ("box.mbtiles", "Outdoor_3857", 13)])
def test_a_tile_deleted_from_a_finished_file_is_crossed_out_where_it_is_missing(tmp_path, name, layer, zoom):
    from ospack.writers.mbtiles import flip_row

    path = finished_package(tmp_path / name, layer, (zoom,))
    tiles = cover(layer, zoom)
    gone = tiles[len(tiles) // 2]
    table, row = ("tiles", flip_row(zoom, gone.y)) if name.endswith(".mbtiles") else (layer.lower(), gone.y)
    tamper(
        path, (f"DELETE FROM {table} WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?", (zoom, gone.x, row))
    )
    picture = ospack.preview_file(path, zoom=zoom)
    assert picture.counts["missing"] == 1 and picture.counts["stored"] == len(tiles) - 1
    left, top, right, bottom = square(picture, gone)
    centre = ((left + right) // 2, (top + bottom) // 2)
    assert picture.image.getpixel(centre) == draw.MISSING
    assert (
        picture.image.getpixel((left + (right - left) // 2, top + (bottom - top) // 4)) == draw.WHITE
    )  # not a tile's image
    for other in (t for t in tiles if t != gone):
        o_left, o_top, o_right, o_bottom = square(picture, other)
        assert picture.image.getpixel(((o_left + o_right) // 2, (o_top + o_bottom) // 2)) != draw.MISSING, other


def test_a_tile_the_source_has_no_data_for_is_hatched_not_crossed(tmp_path, open_db):
    zoom = 9
    tiles = cover(LAYER, zoom)
    gone = tiles[0]
    path = tmp_path / "absent.gpkg"
    with open_writer(path, make_job(LAYER, (zoom,))) as writer:
        writer.write(LAYER, [(t, _tile_bytes(t)) for t in bbox_tiles(LAYER, zoom) if t != gone])
    conn = open_db(path)
    with conn:
        record_absent(conn, [(LAYER, zoom, gone.y, gone.x)])
    picture = ospack.preview_file(path, zoom=zoom)
    assert picture.counts["absent"] == 1 and picture.counts["missing"] == 0
    box = square(picture, gone)
    pixels = [picture.image.getpixel((x, y)) for x in range(box[0], box[2]) for y in range(box[1], box[3])]
    assert draw.ABSENT in pixels and draw.MISSING not in pixels


def _tile_bytes(tile: Tile) -> bytes:
    from test_writers_support import render_tile

    return render_tile(tile)


def test_the_default_zoom_is_the_deepest_that_fits_and_attribution_is_in_the_corner(tmp_path):
    path = finished_package(tmp_path / "box.gpkg", LAYER, (7, 8, 9, 10))
    picture = ospack.preview_file(path)
    fits = [z for z in (7, 8, 9, 10) if _window_side(z) * 256 <= draw.MAX_PIXELS - draw.CAPTION_PIXELS]
    assert picture.zoom == fits[-1] and picture.view.cell == 256
    assert any("the deepest whose tiles fit" in note for note in picture.notes)
    assert max(picture.image.size) <= draw.MAX_PIXELS
    width, height = picture.view.size
    corner = picture.image.crop((width - 60, height - 20, width, height))
    colours = {colour for _, colour in corner.getcolors(maxcolors=4096)}
    assert draw.INK in colours and draw.WHITE in colours  # text on the white label


def _window_side(zoom: int) -> int:
    tiles = bbox_tiles(LAYER, zoom)
    return max(tiles[-1].x - tiles[0].x, tiles[-1].y - tiles[0].y) + 1


def test_a_zoom_asked_is_scaled_down_to_fit_and_one_with_too_many_tiles_is_refused(tmp_path):
    path = finished_package(tmp_path / "box.gpkg", LAYER, (10,))
    picture = ospack.preview_file(path, zoom=10)
    assert max(picture.image.size) <= draw.MAX_PIXELS and picture.view.cell < 256
    with pytest.raises(ZoomError, match="holds zooms 10, not 11"):
        ospack.preview_file(path, zoom=11)
    big = tmp_path / "big.gpkg"
    with open_writer(big, make_job(LAYER, (4, 13), box=(-4.6, 52.6, -3.4, 53.4))) as writer:
        fill(writer, LAYER, (4,), box=(-4.6, 52.6, -3.4, 53.4))
    with pytest.raises(ZoomError, match=r"too many for one picture.*choose zoom 4 or lower"):
        ospack.preview_file(big, zoom=13)


def test_a_long_failure_of_the_last_run_is_cut_to_the_pictures_width(tmp_path):
    path = finished_package(tmp_path / "box.gpkg", LAYER, (8,))
    tamper(
        path,
        "UPDATE ospack_state SET value = '0' WHERE name = 'complete'",
        ("INSERT OR REPLACE INTO ospack_state (name, value) VALUES ('failure', ?)", ("the API refused " * 60,)),
    )
    picture = ospack.preview_file(path)
    assert max(picture.image.size) <= draw.MAX_PIXELS
    band = picture.image.crop((0, picture.view.size[1], picture.image.size[0], picture.image.size[1]))
    assert len(band.getcolors(maxcolors=1 << 16)) > 2  # the caption was drawn, failure line included


def test_several_layers_need_one_chosen(tmp_path):
    path = tmp_path / "two.gpkg"
    with open_writer(path, make_job((LAYER, "Road_27700"), (8,))) as writer:
        fill(writer, LAYER, (8,))
        fill(writer, "Road_27700", (8,))
    with pytest.raises(LayerError, match="holds layers Outdoor_27700, Road_27700; choose one with --layer"):
        ospack.preview_file(path)
    assert ospack.preview_file(path, layer="road_27700").layer == "Road_27700"
    with pytest.raises(LayerError, match="not Light_27700"):
        ospack.preview_file(path, layer="Light_27700")


def test_a_file_ospack_did_not_make_is_refused_in_one_line(tmp_path, open_db):
    path = tmp_path / "plain.mbtiles"
    conn = open_db(path)
    conn.executescript(
        "CREATE TABLE metadata (name, value); CREATE TABLE tiles (zoom_level, tile_column, tile_row, tile_data);"
    )
    conn.commit()
    with pytest.raises(WriterError, match="not made by ospack"):
        ospack.preview_file(path)


# --- the command line ------------------------------------------------------------------------


def test_cli_previews_a_demo_package_before_and_after(runner, tmp_path):
    area = "sample_areas/yr-wyddfa.geojson"
    plan_png, output, look_png = tmp_path / "plan.png", tmp_path / "yr.gpkg", tmp_path / "look.png"
    before = runner.invoke(
        cli, ["preview", area, "--layer", LAYER, "--zoom", "8", "-o", str(plan_png), "--against", str(output)]
    )
    assert before.exit_code == 0, before.output
    planned = ospack.plan(area, LAYER, 8).counts[LAYER][8]
    assert f"{planned} planned" in before.stdout and f"{planned} to fetch" in before.stdout
    demo_package(area, output, LAYER, "7-8")
    after = runner.invoke(cli, ["preview", str(output), "-o", str(look_png)])
    assert after.exit_code == 0, after.output
    assert f"{planned} stored, 0 absent, 0 missing" in after.stdout
    again = runner.invoke(cli, ["preview", area, "-l", LAYER, "-z", "8", "-o", str(plan_png), "--against", str(output)])
    assert f"{planned} held, 0 to fetch" in again.stdout
    for png in (plan_png, look_png):
        with Image.open(png) as image:
            assert image.format == "PNG" and max(image.size) <= draw.MAX_PIXELS


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-4.10,53.05,-4.05,53.09", "-o", "p.png", "--layer", LAYER], 2, "needs --zoom"),
        (["-4.10,53.05,-4.05,53.09", "-o", "p.png", "--zoom", "8"], 2, "needs --layer"),
        (["-4.10,53.05,-4.05,53.09", "-o", "p.jpg", "--zoom", "8", "--layer", LAYER], 2, "name the output p.png"),
        (["-4.10,53.05,-4.05,53.09", "-o", "p.png", "--zoom", "14", "--layer", LAYER], 2, "outside layer"),
        (["box.gpkg", "-o", "p.png", "--buffer", "100"], 2, "--buffer do not apply"),
        (["box.gpkg", "-o", "p.png", "--zoom", "3"], 2, "holds zooms 8, not 3"),
        (["box.gpkg", "-o", "nowhere/p.png"], 1, "folder nowhere does not exist"),
        (["missing.geojson", "-o", "p.png", "--zoom", "3", "--layer", LAYER], 1, "missing.geojson"),
    ],
)
def test_cli_bad_input_is_one_error_line(runner, tmp_path, monkeypatch, args, code, message):
    monkeypatch.chdir(tmp_path)
    finished_package(tmp_path / "box.gpkg", LAYER, (8,))
    result = runner.invoke(cli, ["preview", *args])
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.stderr
    assert "Traceback" not in result.output


def test_the_preview_command_is_listed_with_an_example(runner):
    listed = runner.invoke(cli, ["--help"])
    assert "preview" in listed.stdout
    shown = runner.invoke(cli, ["preview", "--help"])
    assert shown.exit_code == 0 and "ospack preview sample_areas/yr-wyddfa.geojson" in shown.stdout


def test_a_missing_context_tile_is_crossed_out_at_a_context_zoom(tmp_path):
    from ospack.plan import plan

    zoom, output = 4, tmp_path / "context.gpkg"
    assert demo_package(SNOWDON, output, LAYER, "3-5").complete
    job = plan(SNOWDON, LAYER, zoom)
    area_tiles = set(ospack.cover(job.area, LAYER, [zoom]))
    context_only = [t for t in job.cover(get_layer(LAYER)).tiles(zoom) if t not in area_tiles]
    gone = context_only[0]
    delete = f"DELETE FROM {LAYER.lower()} WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?"
    tamper(output, (delete, (zoom, gone.x, gone.y)))
    picture = ospack.preview_file(output, zoom=zoom)
    assert picture.counts["missing"] == 1
    view, grid = picture.view, get_layer(LAYER).grid
    span = grid.tile_span(zoom)
    x = (grid.origin_x + (gone.x + 0.5) * span - view.left) / span * view.cell
    y = (view.top - (grid.origin_y - (gone.y + 0.5) * span)) / span * view.cell
    assert picture.image.getpixel((round(x), round(y))) == draw.MISSING
