"""Real WMTS clients nobody here wrote read the emulator: OWSLib, and GDAL's WMTS driver via rasterio."""

from __future__ import annotations

import io

import numpy as np
import pytest
import rasterio
from owslib.wmts import WebMapTileService
from PIL import Image
from rasterio.windows import from_bounds

from ospack.layers import get_layer
from ospack.types import Tile


def _capabilities_url(emulator) -> str:
    return f"{emulator.url}/maps/raster/v1/wmts?key=demo&service=WMTS&request=GetCapabilities"


def test_owslib_parses_capabilities_and_fetches_a_tile(emulator):
    wmts = WebMapTileService(f"{emulator.url}/maps/raster/v1/wmts?key=demo")
    assert wmts.identification.title == "OS Maps API"
    assert set(wmts.contents) == {
        "Light_27700",
        "Light_3857",
        "Outdoor_27700",
        "Outdoor_3857",
        "Road_27700",
        "Road_3857",
        "Leisure_27700",
    }
    bng = wmts.tilematrixsets["EPSG:27700"]
    assert bng.tilematrix["EPSG:27700:7"].matrixwidth == 636
    assert bng.tilematrix["EPSG:27700:0"].scaledenominator == pytest.approx(3199999.999496063)
    leisure = wmts.contents["Leisure_27700"].tilematrixsetlinks["EPSG:27700"]
    assert leisure.tilematrixlimits["EPSG:27700:9"].maxtilerow == 3072
    tile = wmts.gettile(
        layer="Outdoor_27700",
        tilematrixset="EPSG:27700",
        tilematrix="EPSG:27700:7",
        row=486,
        column=321,
        format="image/png",
    )
    body = tile.read()
    direct = Image.open(io.BytesIO(body))
    assert direct.size == (256, 256)
    stats = emulator.stats()
    assert stats["by_key"]["demo"] == 2 and stats["tiles"] == 1  # the echoed key authenticated GetTile


@pytest.mark.parametrize(
    ("layer_name", "tile"),
    [("Outdoor_27700", Tile(7, 321, 486)), ("Road_3857", Tile(12, 2012, 1336))],
)
def test_gdal_wmts_driver_reads_the_zxy_tile(emulator, layer_name, tile):
    layer = get_layer(layer_name)
    matrix = f"{layer.grid.id}:{tile.z}"
    source = f"WMTS:{_capabilities_url(emulator)},layer={layer_name},tilematrix={matrix}"
    expected = np.asarray(Image.open(io.BytesIO(_zxy(emulator, layer_name, tile))).convert("RGB")).transpose(2, 0, 1)
    bounds = layer.grid.tile_bounds(tile)
    with rasterio.Env(GDAL_ENABLE_WMS_CACHE=False, GDAL_HTTP_TIMEOUT=20), rasterio.open(source) as dataset:
        assert dataset.crs.to_epsg() == layer.grid.epsg
        assert dataset.res[0] == pytest.approx(layer.grid.tile_span(tile.z) / 256)
        window = from_bounds(*bounds, transform=dataset.transform).round_offsets().round_lengths()
        pixels = dataset.read((1, 2, 3), window=window)
    assert pixels.shape == (3, 256, 256)
    assert np.array_equal(pixels, expected)
    assert emulator.stats()["by_key"]["demo"] >= 3


def _zxy(emulator, layer_name: str, tile: Tile) -> bytes:
    import httpx

    response = httpx.get(
        f"{emulator.url}/maps/raster/v1/zxy/{layer_name}/{tile.z}/{tile.x}/{tile.y}.png", headers={"key": "demo"}
    )
    assert response.status_code == 200
    return response.content
