"""End to end without the packager: read_area → cover → emulator (real HTTP on 127.0.0.1) → writer → verify."""

from __future__ import annotations

import httpx
import pytest
import rasterio
from osgeo_utils.samples.validate_gpkg import check as validate_gpkg
from test_writers_support import AREA_BOX, CREATED, query

from ospack.area import read_area
from ospack.cover import cover
from ospack.inspect import verify
from ospack.writers import JobInfo, open_writer

CASES = [("gpkg", "Outdoor_27700", (6, 7)), ("mbtiles", "Outdoor_3857", (12, 13))]


@pytest.mark.parametrize("fmt, layer, zooms", CASES)
def test_emulator_tiles_round_trip(emulator, tmp_path, fmt, layer, zooms):
    path = tmp_path / f"emulated.{fmt}"
    area = read_area(",".join(map(str, AREA_BOX)), buffer_m=50)
    source = f"{emulator.url}/maps/raster/v1/zxy"
    job = JobInfo((layer,), zooms, area.to_geojson(), source, CREATED, demo=True)
    fetched = {}
    with httpx.Client(base_url=source, headers={"key": "demo"}) as client:
        with open_writer(path, job) as out:
            for z in zooms:
                batch = []
                for tile in cover(area, layer, [z]):
                    response = client.get(f"/{layer}/{z}/{tile.x}/{tile.y}.png")
                    assert response.status_code == 200
                    batch.append((tile, response.content))
                    fetched[tile] = response.content
                assert out.write(layer, batch) == len(batch)
            out.mark_complete()
    table = layer.lower() if fmt == "gpkg" else "tiles"
    stored = query(path, f"SELECT count(*), sum(length(tile_data)) FROM {table}")
    assert stored == [(len(fetched), sum(map(len, fetched.values())))]
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == int(layer.rsplit("_", 1)[1])
        assert src.read(1).any()
    report = verify(path)
    assert report.ok and not report.notes, report.problems + report.notes
    if fmt == "gpkg":
        assert validate_gpkg(str(path), abort_at_first_error=False) == []
