"""Tiles fetched from the emulator (real HTTP on 127.0.0.1) round-trip through both writers."""

from __future__ import annotations

import sqlite3

import httpx
import pytest
import rasterio
from osgeo_utils.samples.validate_gpkg import check as validate_gpkg

from ospack.writers import open_writer
from test_writers_support import bbox_tiles, make_job

CASES = [("gpkg", "Outdoor_27700", (6, 7)), ("mbtiles", "Outdoor_3857", (12, 13))]


@pytest.mark.parametrize("fmt, layer, zooms", CASES)
def test_emulator_tiles_round_trip(emulator, tmp_path, fmt, layer, zooms):
    path = tmp_path / f"emulated.{fmt}"
    fetched = {}
    with httpx.Client(base_url=f"{emulator.url}/maps/raster/v1/zxy", headers={"key": "demo"}) as client:
        with open_writer(path, make_job(layer, zooms, source=f"{emulator.url}/maps/raster/v1/zxy", demo=True)) as out:
            for z in zooms:
                batch = []
                for tile in bbox_tiles(layer, z):
                    response = client.get(f"/{layer}/{z}/{tile.x}/{tile.y}.png")
                    assert response.status_code == 200
                    batch.append((tile, response.content))
                    fetched[tile] = response.content
                assert out.write(layer, batch) == len(batch)
            out.mark_complete()
    conn = sqlite3.connect(path)
    table = layer.lower() if fmt == "gpkg" else "tiles"
    stored = conn.execute(f"SELECT count(*), sum(length(tile_data)) FROM {table}").fetchone()
    assert stored == (len(fetched), sum(map(len, fetched.values())))
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == int(layer.rsplit("_", 1)[1])
        assert src.read(1).any()
    if fmt == "gpkg":
        assert validate_gpkg(str(path), abort_at_first_error=False) == []
