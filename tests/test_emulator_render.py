"""Test-card tiles: deterministic, georeferenced, distinct per style, plain sea outside Great Britain."""

from __future__ import annotations

import io
import math

import pytest
from PIL import Image

from ospack.emulator.render import PALETTES, bng_reference, render_tile, sea_tile
from ospack.layers import get_layer, list_layers
from ospack.types import Tile


@pytest.mark.parametrize(
    ("easting", "northing", "reference"),
    [
        (260990, 354360, "SH 60 54"),
        (337297, 503695, "NY 37 03"),
        (651409, 313177, "TG 51 13"),
        (216666, 771288, "NN 16 71"),
        (-1000, 50, "E-1000 N50"),
    ],
)
def test_bng_reference(easting, northing, reference):
    assert bng_reference(easting, northing) == reference


def test_every_layer_renders_a_land_tile_with_its_own_palette():
    snowdon = {"EPSG:27700": (260990, 354360), "EPSG:3857": (-454000, 7014000)}
    colours = {}
    for layer in list_layers():
        z = min(layer.open_zooms.stop - 1, 9)
        tile = layer.grid.tile_at(*snowdon[layer.grid.id], z)
        body = render_tile(layer, tile)
        assert body == render_tile(layer, tile)
        assert 2_000 < len(body) < 60_000
        image = Image.open(io.BytesIO(body)).convert("RGB")
        assert image.size == (256, 256)
        colours[layer.style] = {colour for _, colour in image.getcolors(65536)}
        assert PALETTES[layer.style].land in colours[layer.style]
    for style, palette in PALETTES.items():
        assert all(palette.land not in seen for other, seen in colours.items() if other != style)


def test_sea_tiles_are_identical_and_plain():
    layer = get_layer("Outdoor_3857")
    atlantic = [Tile(7, 60, 35), Tile(8, 120, 71), Tile(12, 1930, 1150)]
    bodies = {render_tile(layer, tile) for tile in atlantic}
    assert bodies == {sea_tile("Outdoor")}
    assert len(sea_tile("Outdoor")) < 2_000


def test_graticule_line_sits_at_its_true_longitude():
    layer = get_layer("Road_3857")
    tile = Tile(12, 2012, 1336)  # spans about 3.17°W to 3.08°W
    left, _, right, _ = layer.grid.tile_bounds(tile)
    x = 6378137.0 * math.radians(-3.12)
    column = round((x - left) / (right - left) * 256)
    image = Image.open(io.BytesIO(render_tile(layer, tile))).convert("RGB")
    grid = PALETTES["Road"].grid
    hits = [sum(image.getpixel((c, y)) == grid for y in range(256)) for c in (column - 1, column, column + 1)]
    assert max(hits) > 150  # the caption card hides part of the line
