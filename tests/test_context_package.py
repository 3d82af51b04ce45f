"""A package with a regional context, read by GDAL: the region zoomed out, the area exactly at the top zoom.

Also: verify is OK, a resume fetches only what is missing, estimate and package agree, and the
GeoPackage passes GDAL's validator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from osgeo_utils.samples.validate_gpkg import check as validate_gpkg
from pyproj import Transformer
from rasterio.windows import from_bounds
from test_writers_support import query, tamper

from ospack import package
from ospack.area import read_area
from ospack.context import NO_CONTEXT, Context
from ospack.cover import count
from ospack.emulator import EmulatorConfig
from ospack.estimate import estimate
from ospack.fetch import ApiAccess, FetchSettings, RatePolicy
from ospack.inspect import verify
from ospack.layers import get_layer
from ospack.plan import JobCover, plan
from ospack.writers import read_job

ROOT = Path(__file__).resolve().parent.parent
SNOWDON = ROOT / "sample_areas" / "yr-wyddfa.geojson"
OUTDOOR = get_layer("Outdoor_27700")
MERCATOR = get_layer("Light_3857")
UNPACED = FetchSettings(rate=RatePolicy.unpaced())


def run(emulator, output, layer=OUTDOOR.name, zooms="0-7", **options):
    options.setdefault("settings", UNPACED)
    return package(SNOWDON, output, layers=layer, zooms=zooms, **options, api=ApiAccess(url=emulator.url, key="demo"))


def region_of(layer, context=None):
    return JobCover.of(read_area(SNOWDON), layer, context or Context()).region


def alpha(dataset, box):
    """The alpha band over ``box`` (grid metres), as GDAL reads it."""
    return dataset.read(4, window=from_bounds(*box, transform=dataset.transform))


@pytest.fixture(scope="module")
def context_gpkg(tmp_path_factory):
    """Yr Wyddfa at 27700 zooms 0-7 with the default context (zooms 0-5 get it), from the emulator."""
    from ospack.emulator import Emulator

    path = tmp_path_factory.mktemp("context") / "snowdon.gpkg"
    with Emulator(EmulatorConfig(keys=("demo",), limit=100_000)) as emulator:
        summary = run(emulator, path)
    assert summary.complete and summary.tiles_failed == 0
    return path, summary


def test_zoomed_out_gdal_shows_map_over_the_whole_context_region(context_gpkg):
    path, _ = context_gpkg
    region = region_of(OUTDOOR)
    with rasterio.open(path, ZOOM_LEVEL=5) as dataset:  # GDAL's view of zoom 5, as QGIS shows it zoomed out
        assert dataset.count == 4 and dataset.res == pytest.approx((OUTDOOR.grid.resolutions[5],) * 2)
        b = dataset.bounds
        assert b.left <= region.left and b.bottom <= region.bottom and b.right >= region.right and b.top >= region.top
        shown = alpha(dataset, region)
        assert shown.shape[0] > 1500 and shown.shape[1] > 1500  # ~50 km at 28 m a pixel, not a 36 px stamp
        assert (shown == 255).all()  # map everywhere over the region
        assert dataset.read(1, window=from_bounds(*region, transform=dataset.transform)).any()


def test_at_the_top_zoom_gdal_shows_the_area_s_tiles_and_transparency_around_them(context_gpkg):
    path, _ = context_gpkg
    area = read_area(SNOWDON)
    tiles = list(JobCover.of(area, OUTDOOR, Context()).tiles(7))
    assert tiles and len(tiles) == count(area, OUTDOOR, [7])[7]  # zoom 7 holds the area only
    grid = OUTDOOR.grid
    boxes = [grid.tile_bounds(t) for t in tiles]
    area_box = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
    region = region_of(OUTDOOR)
    with rasterio.open(path) as dataset:  # the full resolution: zoom 7
        assert dataset.res == pytest.approx((grid.resolutions[7],) * 2)
        assert dataset.bounds.left <= region.left and dataset.bounds.right >= region.right  # one extent, all zooms
        for box in boxes:
            assert (alpha(dataset, box) == 255).all()  # every tile of the area is there, at its place
        # outside the area's tiles: transparent (alpha 0), with no colour, not black opaque pixels
        outside = (region.left, region.bottom, region.left + 5_000, region.bottom + 5_000)
        assert (alpha(dataset, outside) == 0).all()
        west = (area_box[0] - 2_000, area_box[1], area_box[0], area_box[3])
        assert (alpha(dataset, west) == 0).all()
        assert not dataset.read(1, window=from_bounds(*west, transform=dataset.transform)).any()


def test_a_context_package_verifies_passes_gdal_s_validator_and_records_its_context(context_gpkg):
    path, _ = context_gpkg
    report = verify(path)
    assert report.ok, report.problems
    assert validate_gpkg(str(path), abort_at_first_error=False) == []
    job = read_job(path)
    assert job is not None and job.context == Context() and job.context_m == 25_000
    [(min_x, min_y, max_x, max_y)] = query(path, "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents")
    region = region_of(OUTDOOR)
    assert min_x <= region.left and min_y <= region.bottom and max_x >= region.right and max_y >= region.top
    # the region, not the coarse zooms' whole tiles (one zoom-0 tile is 229 km): the top zoom opens on the area
    assert max_x - min_x < region.right - region.left + 2 * OUTDOOR.grid.tile_span(7) + 1_000
    span = OUTDOOR.grid.tile_span(7)  # on the tile edges of the top zoom, so its pixels stay exact
    for edge, origin in ((min_x, OUTDOOR.grid.origin_x), (max_y, OUTDOOR.grid.origin_y)):
        assert ((edge - origin) / span) == pytest.approx(round((edge - origin) / span), abs=1e-9)


def test_estimate_and_package_agree_tile_for_tile_with_the_context(context_gpkg):
    _, summary = context_gpkg
    sized = estimate(SNOWDON, OUTDOOR, "0-7")
    assert sized.context_total > 0
    assert summary.tiles_planned == sized.total == summary.tiles_written + summary.tiles_absent
    assert {z: t.written + t.absent for z, t in summary.zooms.items()} == {z.zoom: z.tiles for z in sized.zooms}


def test_a_resume_of_an_interrupted_context_package_fetches_only_what_is_missing(fast_emulator, tmp_path):
    output = tmp_path / "half.gpkg"
    planned = plan(SNOWDON, OUTDOOR, "0-7")
    run(fast_emulator, output)
    tamper(  # lose a third, context tiles among them, as if the run had been cut short
        output,
        "DELETE FROM outdoor_27700 WHERE id % 3 = 0",
        "UPDATE ospack_state SET value = '0' WHERE name = 'complete'",
    )
    [(remaining,)] = query(output, "SELECT count(*) FROM outdoor_27700")
    [(lost_context,)] = query(output, "SELECT count(*) FROM outdoor_27700 WHERE zoom_level <= 5")
    assert lost_context < sum(planned.counts[OUTDOOR.name][z] for z in range(6))
    fast_emulator.reset()
    summary = run(fast_emulator, output)
    assert summary.complete and summary.tiles_already_stored == remaining
    assert summary.requests == planned.tiles() - remaining == fast_emulator.stats()["tiles"]
    assert verify(output).ok


def test_a_wider_context_resumes_a_file_and_a_narrower_one_keeps_the_file_s(fast_emulator, tmp_path):
    output = tmp_path / "grow.gpkg"
    run(fast_emulator, output, context=NO_CONTEXT)
    assert read_job(output).context == NO_CONTEXT  # as every file written before contexts existed reads
    fast_emulator.reset()
    wider = run(fast_emulator, output)  # the default context on an old file: the context tiles only
    assert wider.complete and fast_emulator.stats()["tiles"] == plan(SNOWDON, OUTDOOR, "0-7").context_tiles()
    assert read_job(output).context == Context()
    fast_emulator.reset()
    narrower = run(fast_emulator, output, context="5km")
    assert narrower.already_complete and fast_emulator.stats()["requests"] == 0
    assert read_job(output).context == Context() and verify(output).ok  # the file keeps what it holds


def test_mbtiles_bounds_hold_the_context_and_the_center_is_on_the_area(fast_emulator, tmp_path):
    output = tmp_path / "snowdon.mbtiles"
    summary = run(fast_emulator, output, layer=MERCATOR.name, zooms="9-14")
    assert summary.complete and verify(output).ok
    [(bounds,)] = query(output, "SELECT value FROM metadata WHERE name = 'bounds'")
    [(center,)] = query(output, "SELECT value FROM metadata WHERE name = 'center'")
    west, south, east, north = map(float, bounds.split(","))
    to_lonlat = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    region = region_of(MERCATOR)
    r_west, r_south, r_east, r_north = to_lonlat.transform_bounds(*region)
    assert west <= r_west + 1e-9 and south <= r_south + 1e-9 and east >= r_east - 1e-9 and north >= r_north - 1e-9
    lon, lat, _zoom = map(float, center.split(","))
    a_west, a_south, a_east, a_north = read_area(SNOWDON).bounds_wgs84()
    assert a_west <= lon <= a_east and a_south <= lat <= a_north
    with rasterio.open(output, ZOOM_LEVEL=10) as dataset:  # zoomed out: map over the region
        shown = dataset.read(4, window=from_bounds(*region, transform=dataset.transform))
        assert shown.size and (shown == 255).all()
    with rasterio.open(output) as dataset:  # the top zoom: beyond the area, transparent
        corner = (region.left, region.bottom, region.left + 3_000, region.bottom + 3_000)
        assert np.all(dataset.read(4, window=from_bounds(*corner, transform=dataset.transform)) == 0)


def test_info_says_the_file_holds_a_context(context_gpkg):
    from ospack.inspect import info

    path, _ = context_gpkg
    assert "context: 25 km around the area, at the zooms whose tiles span 5 km or more" in info(path).to_text()
